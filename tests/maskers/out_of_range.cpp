// Adds index n (one past the end) in every row.
#include "masker_api.h"
void select(const adrs::Row& row, adrs::Selection& out) { out.add(row.num_keys); }

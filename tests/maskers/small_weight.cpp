// Adds a key with weight 0.5 (< 1).
#include "masker_api.h"
void select(const adrs::Row&, adrs::Selection& out) { out.add(0, 0.5); }

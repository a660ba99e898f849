// Keeps nothing: every row attends to nothing.
#include "masker_api.h"
void select(const adrs::Row&, adrs::Selection&) {}

// Calls abort().
#include <cstdlib>
#include "masker_api.h"
void select(const adrs::Row&, adrs::Selection&) { std::abort(); }

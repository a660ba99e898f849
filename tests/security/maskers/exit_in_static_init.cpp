// Class 8: ends the worker from a static initializer (inside dlopen) with the exit code that
// means "the worker was started wrongly" (a harness fault, if the code were believed).
#include <unistd.h>

#include "masker_api.h"

namespace {
const int kForged = (_exit(14), 0);
}

void select(const adrs::Row&, adrs::Selection& out) { out.add(kForged); }

// Class 8: exits with the worker's own "cannot write selections" code.
#include <unistd.h>

#include "masker_api.h"

void select(const adrs::Row&, adrs::Selection&) { _exit(15); }

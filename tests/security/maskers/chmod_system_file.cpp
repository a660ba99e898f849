// Class 4: changes the metadata of a file outside its scratch directory.
#include <sys/stat.h>

#include "masker_api.h"

void select(const adrs::Row&, adrs::Selection& out) {
  chmod("/usr/bin/env", 0777);
  out.add(0);
}

// Tries to read files outside what the sandbox allows; adds an invalid index if it can.
#include <cstdio>
#include "masker_api.h"
void select(const adrs::Row&, adrs::Selection& out) {
  bool leaked = false;
  for (const char* path : {"/etc/passwd", "/etc/hostname", "/root/.bashrc", "/proc/1/environ"}) {
    if (std::FILE* f = std::fopen(path, "r")) {
      leaked = true;
      std::fclose(f);
    }
  }
  out.add(leaked ? -1 : 0);
}

// Looks for secrets in its environment and in its parent's; adds an invalid index if it finds one.
#include <unistd.h>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include "masker_api.h"
extern char** environ;
void select(const adrs::Row&, adrs::Selection& out) {
  bool found = false;
  for (char** e = environ; *e; ++e)
    if (std::strstr(*e, "sk-adrs-test")) found = true;
  std::ifstream parent("/proc/" + std::to_string(getppid()) + "/environ");
  std::stringstream text;
  text << parent.rdbuf();
  if (text.str().find("sk-adrs-test") != std::string::npos) found = true;
  out.add(found ? -1 : 0);
}

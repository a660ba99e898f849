#include <cstdio>

#include "driver/cli/commands.h"

namespace adrs {

int fail(const std::string& command, const Status& status) {
  std::fprintf(stderr, "adrs %s: %s\n", command.c_str(), status.message().c_str());
  return status.is(StatusCode::kBusy) ? 3 : 2;
}

int fail(const std::string& command, const std::string& message) { return fail(command, Status::Error(message)); }

}  // namespace adrs

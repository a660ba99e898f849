// Status: the small error value that travels between layers (after LevelDB's).
// ok() or a message meant for the user: it names the problem and, where it can, the fix.
#pragma once

#include <string>
#include <utility>

namespace adrs {

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
  bool failed_ = false;
  std::string message_;
};

}  // namespace adrs

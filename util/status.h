// Status: the small error value that travels between layers (after LevelDB's).
// ok() or a message meant for the user: it names the problem and, where it can, the fix; and a
// code that says what kind of failure it is, so callers branch (and the CLI picks its exit status)
// on the code, never on the message text. A Status must be looked at ([[nodiscard]]); where a
// failure truly does not matter, say so with `.IgnoreError()` and a comment saying why.
#pragma once

#include <string>
#include <utility>

namespace adrs {

enum class StatusCode {
  kOk,
  kInvalid,      // bad input or usage (a config, a flag, a file the user named): exit status 2
  kNotFound,     // the thing asked for does not exist (a candidate id, a run directory): exit 2
  kBusy,         // another process holds the run: exit 3
  kFault,        // adrs or the machine failed (disk, database, an evaluator fault): exit 1
  kInterrupted,  // stopped by Ctrl-C / SIGTERM: exit 130
  kNotAdrsRun,   // an SQLite file without the adrs schema (never ours to change)
  kOldSchema,    // a run database of an older schema, which resume upgrades
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  // The common failure: bad input named in the message (kInvalid).
  static Status Error(std::string message) { return Status(StatusCode::kInvalid, std::move(message)); }
  static Status NotFound(std::string message) { return Status(StatusCode::kNotFound, std::move(message)); }
  static Status Busy(std::string message) { return Status(StatusCode::kBusy, std::move(message)); }
  static Status Fault(std::string message) { return Status(StatusCode::kFault, std::move(message)); }
  static Status Interrupted(std::string message) { return Status(StatusCode::kInterrupted, std::move(message)); }
  static Status WithCode(StatusCode code, std::string message) { return Status(code, std::move(message)); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  bool is(StatusCode code) const { return code_ == code; }
  const std::string& message() const { return message_; }
  // The same failure with more context in front of its message ("reading x: " + message).
  // For the rare call whose failure changes nothing (best-effort cleanup); comment why at the call.
  void IgnoreError() const {}

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// The process exit status for a failed command: 2 bad usage or input, 3 busy, 1 fault,
// 130 interrupted (0 for ok).
inline int exit_code(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return 0;
    case StatusCode::kBusy: return 3;
    case StatusCode::kFault: return 1;
    case StatusCode::kInterrupted: return 130;
    default: return 2;
  }
}

}  // namespace adrs

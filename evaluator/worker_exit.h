// Exit codes of the masker worker (adrs-worker), shared by the worker and the evaluator.
#pragma once

namespace adrs::worker_exit {

constexpr int kOk = 0;
constexpr int kMaskerException = 10;  // select() threw; message file says what and in which row
constexpr int kOutOfMemory = 11;      // an allocation failed under the memory limit
constexpr int kForbiddenSyscall = 12; // the masker tried to fork, exec, open a socket, ...
constexpr int kBadMasker = 13;        // the shared object does not load or lacks the entry point
constexpr int kUsage = 14;            // the worker was started wrongly (a bug in adrs)
constexpr int kOutputError = 15;      // the selections could not be written

}  // namespace adrs::worker_exit

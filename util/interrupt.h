// Ctrl-C handling, one handler for every command: the first SIGINT or SIGTERM sets a flag that long
// work polls (run_process kills its child when it sees it; the run loop abandons work in flight,
// which resume redoes) and prints `message`; a second one exits at once with 128 + the signal.
// SIGXFSZ gets an empty handler, so a full disk or a file-size limit becomes a write error with a
// message instead of a silent death (a handler, not SIG_IGN: handlers reset at exec, so children
// keep the default).
#pragma once

#include <atomic>

namespace adrs {

// Installs the handlers (again: the message of the last call is shown) and returns the flag.
const std::atomic<bool>& install_interrupt_handler(const char* message);

// The flag the handler sets; pass it as `cancel` to run_process and the evaluator.
const std::atomic<bool>* interrupt_flag();

}  // namespace adrs

// Ctrl-C handling: the first SIGINT or SIGTERM sets a flag that long work polls (run_process kills
// its child when it sees it), so the program can stop cleanly; a second one exits at once.
#pragma once

#include <atomic>

namespace adrs {

void install_interrupt_handlers();

// The flag the handlers set; pass it as `cancel` to run_process and the evaluator.
const std::atomic<bool>* interrupt_flag();

}  // namespace adrs

#include "util/interrupt.h"

#include <signal.h>
#include <unistd.h>

namespace adrs {

namespace {

std::atomic<bool> g_interrupted{false};

void on_interrupt(int signal) {
  if (g_interrupted.exchange(true)) ::_exit(128 + signal);
  static const char kMessage[] = "\ninterrupted: stopping (press Ctrl-C again to quit at once)\n";
  ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  (void)ignored;
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

const std::atomic<bool>* interrupt_flag() { return &g_interrupted; }

}  // namespace adrs

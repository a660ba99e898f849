#include "util/interrupt.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

namespace adrs {

namespace {

std::atomic<bool> g_interrupted{false};
std::atomic<const char*> g_message{""};

void on_interrupt(int signal) {
  if (g_interrupted.exchange(true)) ::_exit(128 + signal);
  const char* message = g_message.load();
  [[maybe_unused]] const ssize_t ignored = ::write(STDERR_FILENO, message, ::strlen(message));
}

void on_file_size_exceeded(int) {}

}  // namespace

const std::atomic<bool>& install_interrupt_handler(const char* message) {
  g_message.store(message);
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  struct sigaction file_size {};
  file_size.sa_handler = on_file_size_exceeded;
  sigemptyset(&file_size.sa_mask);
  ::sigaction(SIGXFSZ, &file_size, nullptr);
  return g_interrupted;
}

const std::atomic<bool>* interrupt_flag() { return &g_interrupted; }

}  // namespace adrs

#include "evaluator/worker_channels.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace adrs {

namespace {

void close_fd(int* fd) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
}

}  // namespace

WorkerChannels::~WorkerChannels() {
  for (int* fd : {&masker, &selections, &message, &log, &ready_read, &ready_write}) close_fd(fd);
}

Status WorkerChannels::open(const std::string& masker_path) {
  masker = ::open(masker_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st {};
  if (masker < 0 || ::fstat(masker, &st) != 0 || !S_ISREG(st.st_mode))
    return Status::Error("cannot open the masker " + masker_path + " as a regular file: " +
                         (masker < 0 ? std::strerror(errno) : "not a regular file") + " (recompile it)");
  masker_bytes = st.st_size;
  selections = ::memfd_create("adrs-selections", MFD_CLOEXEC);
  message = ::memfd_create("adrs-message", MFD_CLOEXEC);
  log = ::memfd_create("adrs-worker-output", MFD_CLOEXEC);
  int pipe_fds[2] = {-1, -1};
  if (selections < 0 || message < 0 || log < 0 || ::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0)
    return Status::Error(std::string("cannot make the worker's channels: ") + std::strerror(errno) +
                         " (too many open files? raise ulimit -n)");
  ready_read = pipe_fds[0];
  ready_write = pipe_fds[1];
  return Status::Ok();
}

void WorkerChannels::close_ready_write() { close_fd(&ready_write); }

bool WorkerChannels::read_ready(std::string* summary) {
  // Non-blocking: the worker is gone, so the pipe holds at most what it wrote (< 4 KiB matter).
  std::string text;
  char buffer[1024];
  while (text.size() < 4096) {
    const ssize_t got = ::read(ready_read, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    text.append(buffer, static_cast<size_t>(got));
  }
  const std::string head = std::string(kWorkerReady) + "\n";
  if (text.rfind(head, 0) != 0) return false;
  std::string rest = text.substr(head.size(), 1000);
  for (char& c : rest)
    if (static_cast<unsigned char>(c) < 32 || c == 127) c = ' ';
  while (!rest.empty() && rest.back() == ' ') rest.pop_back();
  *summary = rest;
  return true;
}

}  // namespace adrs

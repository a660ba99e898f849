// WorkerChannels: every descriptor that crosses the boundary between the evaluator and one masker
// worker, opened by the evaluator before the spawn and read only through these descriptors after
// the worker has ended (never by path).
//
//   worker fd   what                         opened by the evaluator as
//   3           worker input (mapped)        the evaluator's read-only descriptor
//   4           masker .so                   open(O_RDONLY | O_NOFOLLOW), a regular file
//   5           selections                   memfd (size checked before reading)
//   6           messages (crash, exception)  memfd (read: capped tail)
//   7           "ready\n" + sandbox summary  pipe; the worker closes it before dlopen
//   8           key reads (blind track only) a socket to the evaluator's KeyServer (key_reads.h)
//   1, 2        stdout, stderr               memfd (read: capped tail)
//
// memfds cannot block a reader, are invisible in any file system and die with their last
// descriptor; the worker's RLIMIT_FSIZE caps what it can write into them.
#pragma once

#include <cstdint>
#include <string>

#include "util/status.h"

namespace adrs {

// Scratch space of a masker (its private tmpfs, beside its own copy of the .so).
constexpr long kWorkerScratchMb = 64;

namespace worker_fd {
constexpr int kInput = 3, kMasker = 4, kSelections = 5, kMessage = 6, kReady = 7, kKeys = 8;
}  // namespace worker_fd

// The first line a worker writes on kReady, followed by its sandbox summary.
constexpr const char* kWorkerReady = "ready";

struct WorkerChannels {
  int masker = -1, selections = -1, message = -1, log = -1, ready_read = -1, ready_write = -1;
  int64_t masker_bytes = 0;

  WorkerChannels() = default;
  WorkerChannels(const WorkerChannels&) = delete;
  WorkerChannels& operator=(const WorkerChannels&) = delete;
  ~WorkerChannels();

  // Opens the masker (a regular file, links refused) and makes the memfds and the ready pipe.
  Status open(const std::string& masker_path);
  // Our copy of the pipe's write end; closed after the spawn, so the pipe ends with the worker.
  void close_ready_write();
  // True when the worker wrote its ready line; *summary gets the rest (capped, printable).
  bool read_ready(std::string* summary);
};

}  // namespace adrs

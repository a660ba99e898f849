// Key reads: what Row's counted readers (masker_api.h) compute and charge, and how the blind track
// keeps the counting out of the masker's reach.
//
//   oracle track: the worker maps the keys and answers reads in-process (nothing is charged).
//   blind track:  the worker input holds no keys and no scores. Every read is a request on a
//                 socket to a KeyServer thread in the evaluator (the trusted side), which checks
//                 it, computes the answer from its own copy of the workload, adds the charge to
//                 the row and sends back only the answer. The masker never holds a raw key it did
//                 not pay for, and the counters live in another process: it cannot reset them.
//
// Residual risks (docs/SECURITY.md): a request names its row, and the worker is untrusted, so a
// masker may charge a read to another row of the workload (it still pays for it); and a masker that
// keeps what it read for one row in memory and reuses it for a later row of the same KV head pays
// once (the API forbids such global state; the sandbox does not prevent it).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#ifndef ADRS_MASKER_HOST
#define ADRS_MASKER_HOST
#endif
#include "masker_api.h"
#include "evaluator/workload.h"
#include "util/status.h"

namespace adrs {

// Computes one read for `row` of `workload` into out (and out2 for page maxima); *charge gets its
// cost in key reads. A bad request (range, list) is an error naming the fix. `list` must hold
// request.count entries.
Status compute_key_read(const Workload& workload, int64_t row, const KeyRequest& request, std::vector<float>* out,
                        std::vector<float>* out2, double* charge);

// How many floats a request writes into out (and out2); -1 for a request that is malformed.
int64_t key_read_output_floats(int32_t num_keys, int32_t head_dim, const KeyRequest& request);

// Copies `text` into a C error buffer of the masker API: cut to fit, always terminated.
void copy_to_error_buffer(const std::string& text, char* error, std::size_t error_size);

// The worker side of the blind track: one socket shared by the worker's threads (a request and its
// answer are exchanged under a lock).
class KeyClient {
 public:
  explicit KeyClient(int fd) : fd_(fd) {}
  // Sends the request for `row`, waits for the answer and copies it into out / out2.
  int read(int64_t row, int32_t num_keys, int32_t head_dim, const KeyRequest& request, float* out, float* out2,
           char* error, std::size_t error_size);

 private:
  int fd_;
  std::mutex mutex_;
};

// The evaluator side: serves one worker's requests on `fd` until the worker's end closes or stop()
// is called, charging each row. Charges are read after stop().
class KeyServer {
 public:
  KeyServer(const Workload& workload, int fd);
  ~KeyServer();
  void stop();
  const std::vector<double>& charges() const { return charges_; }
  int64_t requests() const { return requests_; }

 private:
  void serve();
  const Workload& workload_;
  int fd_;
  std::vector<double> charges_;
  int64_t requests_ = 0;
  std::thread thread_;
};

}  // namespace adrs

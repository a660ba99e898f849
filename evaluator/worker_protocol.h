// The two files that cross the trust boundary between the evaluator and the masker worker.
//
// Input (written by the evaluator, mapped read-only by the worker): the workload's keys and queries,
// and, when the run shows them, the oracle scores and the values. Output (written by the worker,
// read and checked by the evaluator): the selections of every row, as compressed sparse rows.
// Both are flat little-endian binary files with a versioned header. The input carries nothing that
// names the workload or its generator seed (a masker can read the whole mapping): only shapes,
// the call table and the arrays. The worker gets both as descriptors the evaluator opened; it never
// needs a path, and the evaluator never opens one the worker could have changed.
#pragma once

#include <string>

#include "evaluator/selections.h"
#include "evaluator/workload.h"
#include "util/status.h"

namespace adrs {

struct WorkerInput {
  Workload workload;              // values() is nullptr unless the input includes them
  const float* scores = nullptr;  // per row, at row_key_offsets(); nullptr when hidden
  std::vector<int64_t> score_offsets;
};

// Writes the worker input atomically (temporary file, then rename). `scores` may be nullptr.
// Without `include_keys` (the blind track) the file holds no keys: the worker reads them only
// through the evaluator's KeyServer (evaluator/key_reads.h).
Status write_worker_input(const Workload& workload, const float* scores, bool include_values,
                          const std::string& path, bool include_keys = true);

// Maps a worker input read-only from a descriptor and checks that its tables fit the file.
Status map_worker_input(int fd, WorkerInput* out);

// Writes selections to an open file descriptor (the worker's output).
Status write_selections(int fd, const Selections& selections);

// Reads a worker's output from a descriptor the evaluator made (a memfd), from offset 0; checks
// the header, the sizes (before reading anything large) and that offsets are monotone. Entries are
// not validated here (validate_selections does that, with messages naming the row).
Status read_selections(int fd, int64_t expected_rows, int64_t max_entries, Selections* out);

}  // namespace adrs

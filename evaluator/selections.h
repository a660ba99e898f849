// Selections: what a masker returned for every row, as compressed sparse rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evaluator/workload.h"
#include "util/status.h"

namespace adrs {

struct Selections {
  std::vector<int64_t> offsets{0};  // row r's entries are [offsets[r], offsets[r+1])
  std::vector<int32_t> indices;
  std::vector<double> weights;

  int64_t num_rows() const { return static_cast<int64_t>(offsets.size()) - 1; }
  void append_row(const int32_t* row_indices, const double* row_weights, int64_t count);
};

// Most entries a row may return (duplicates included) before the candidate is invalid.
int64_t max_entries_per_row(int32_t num_keys);

// Checks every entry (index in [0, n), weight finite and >= 1) and the row count. The message
// names the first bad row (layer, step, head) and entry.
Status validate_selections(const Workload& workload, const Selections& selections);

// After repeats are merged (canonical form): every summed weight is still finite. Weights that
// are each valid can overflow to inf when a key is added many times; the message names the row.
Status validate_merged(const Workload& workload, const Selections& canonical);

// Returns the same selections with each row sorted by index and repeated indices merged
// (weights summed). Distinct kept keys of row r = offsets[r+1] - offsets[r] afterwards.
Selections canonicalize(const Selections& selections);
// True when every row is strictly increasing (sorted, no repeats).
bool is_canonical(const Selections& selections);
// `selections` itself when it is canonical (most maskers emit rows that way, and checking costs
// ~1% of sorting: 2.4 ms against 0.5 s for 25 M entries on `large`), else canonicalize(selections)
// kept in *storage.
const Selections& canonical_form(const Selections& selections, Selections* storage);

// Which rows the fingerprint covers: min(count, rows) distinct rows drawn from `seed`, sorted.
// Ordinary rows of the workload: the masker cannot tell them from the others.
std::vector<int64_t> probe_rows(int64_t rows, uint64_t seed, int count);
// A hash of the merged, validated (index, weight) lists of the probe rows: two maskers with the
// same fingerprint selected exactly the same keys with the same weights there.
std::string selections_fingerprint(const Selections& canonical, const std::vector<int64_t>& rows);

// "row 17 (layer 1, step 0, head 3)": how messages name a row.
std::string describe_row(const Workload& workload, int64_t row);

}  // namespace adrs

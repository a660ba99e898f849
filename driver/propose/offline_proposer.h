// OfflineProposer: the proposer that needs no network. It searches a known space; it does not
// discover new ideas (that needs an LLM). Two moves:
//  - constant tuning (kDiff, kFixUp): perturbs one or two numeric literals of the EVOLVE block,
//    multiplicatively or additively for reals, by integer steps for integers. Works on any source,
//    an LLM's candidates included (tune_constants = true).
//  - structural edits (kFullRewrite, kCrossover): inserts, removes or swaps blocks of the
//    building-block library (driver/propose/building_blocks.h), or recombines the blocks of the parent and
//    an inspiration. A source that is not yet a recipe is first rewritten into one.
// Deterministic: the result depends only on the request (its seed, parent and inspirations).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "driver/propose/proposer.h"
#include "util/random.h"

namespace adrs {

// A numeric literal in a source: byte range and value.
struct NumericLiteral {
  size_t begin = 0, end = 0;
  double value = 0.0;
  bool is_integer = false;
};
// Literals outside comments, strings and identifiers (hex and suffixed integers are skipped).
std::vector<NumericLiteral> find_numeric_literals(const std::string& text);

// Returns `text` with one literal replaced by a perturbed value; "" when it has none to tune.
// `what` receives a description ("0.6 -> 0.7134").
std::string tune_one_constant(const std::string& text, SplitMix& rng, std::string* what);

class OfflineProposer : public Proposer {
 public:
  Proposal propose(const ProposalRequest& request, const std::atomic<bool>& cancel) override;
  std::string describe() const override { return "offline (constant tuning + building-block library)"; }
};

}  // namespace adrs

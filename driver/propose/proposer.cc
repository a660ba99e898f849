#include "driver/propose/proposer.h"

namespace adrs {

namespace {
constexpr std::pair<MutationKind, const char*> kNames[] = {
    {MutationKind::kSeed, "seed"},           {MutationKind::kDiff, "diff"},
    {MutationKind::kFullRewrite, "rewrite"}, {MutationKind::kCrossover, "crossover"},
    {MutationKind::kFixUp, "fix_up"},
};
}  // namespace

const char* mutation_kind_name(MutationKind kind) {
  for (const auto& [k, name] : kNames)
    if (k == kind) return name;
  return "diff";
}

bool parse_mutation_kind(const std::string& name, MutationKind* kind) {
  for (const auto& [k, n] : kNames)
    if (name == n) {
      *kind = k;
      return true;
    }
  return false;
}

}  // namespace adrs

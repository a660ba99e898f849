#include "driver/propose/building_blocks.h"

#include <algorithm>
#include <sstream>

#include "driver/patch/patch.h"

namespace adrs {

namespace {

// Every recipe starts with this: the budget is the target density, so blocks share it and a recipe
// can never pay the density penalty through its deterministic picks. Includes sit inside the
// EVOLVE block because the text outside it may not change.
const char* const kPrelude = R"(#include <cmath>
#include <numeric>
#include <random>

void select(const adrs::Row& row, adrs::Selection& out) {
  const int n = row.num_keys;
  const int budget = std::max(1, static_cast<int>(row.target_density * n));
  std::vector<char> kept(n, 0);
  int used = 0;
  // Keeps key i once, with weight 1, while the density budget lasts.
  auto keep = [&](int i) {
    if (i < 0 || i >= n || kept[i] || used >= budget) return;
    kept[i] = 1;
    ++used;
    out.add(i);
  };
  // Keys not kept yet, best exact score first (empty when the run hides the scores).
  auto unkept_by_score = [&](double recent_bias) {
    std::vector<int> order;
    if (!row.scores) return order;
    for (int i = 0; i < n; ++i)
      if (!kept[i]) order.push_back(i);
    auto rank = [&](int i) { return row.scores[i] + recent_bias * i / n; };
    std::sort(order.begin(), order.end(), [&](int a, int b) { return rank(a) > rank(b); });
    return order;
  };
)";

const char* const kEnd = "}\n";
const char* const kBlockStart = "  // BLOCK ";
const char* const kBlockEnd = "  // END BLOCK";

// The blocks' code, each between its BLOCK and END BLOCK markers (the offline proposer splices
// them into the prelude's select()).
const char* const kSinkBlock = R"(  // BLOCK sink: the first keys, which attract attention mass in most heads
  {
    const int count = std::max(1, static_cast<int>(0.01 * n));
    for (int i = 0; i < count; ++i) keep(i);
  }
  // END BLOCK
)";

const char* const kWindowBlock = R"(  // BLOCK window: the most recent keys
  {
    const int count = std::max(1, static_cast<int>(0.02 * n));
    for (int i = n - 1; i >= 0 && i >= n - count; --i) keep(i);
  }
  // END BLOCK
)";

const char* const kTopkBlock = R"(  // BLOCK topk: oracle top-k, a share of the remaining budget to the highest exact scores
  {
    const int k = static_cast<int>(0.6 * (budget - used));
    const std::vector<int> order = unkept_by_score(0.0);
    for (int j = 0; j < k && j < static_cast<int>(order.size()); ++j) keep(order[j]);
  }
  // END BLOCK
)";

const char* const kTopkRecentBlock = R"(  // BLOCK topk_recent: top-k on score plus a bias towards recent keys
  {
    const int k = static_cast<int>(0.6 * (budget - used));
    const std::vector<int> order = unkept_by_score(0.5);
    for (int j = 0; j < k && j < static_cast<int>(order.size()); ++j) keep(order[j]);
  }
  // END BLOCK
)";

const char* const kTopPBlock = R"(  // BLOCK top_p: highest scores until they hold a share of the softmax mass
  if (row.scores) {
    const double mass_share = 0.9;
    const int cap = used + static_cast<int>(0.8 * (budget - used));
    double top = row.scores[0];
    for (int i = 1; i < n; ++i) top = std::max<double>(top, row.scores[i]);
    double total = 0.0, held = 0.0;
    for (int i = 0; i < n; ++i) {
      const double p = std::exp(row.scores[i] - top);
      total += p;
      if (kept[i]) held += p;
    }
    for (int i : unkept_by_score(0.0)) {
      if (held >= mass_share * total || used >= cap) break;
      keep(i);
      held += std::exp(row.scores[i] - top);
    }
  }
  // END BLOCK
)";

const char* const kStrideBlock = R"(  // BLOCK stride: evenly spaced keys across the context
  {
    const int count = static_cast<int>(0.1 * (budget - used));
    for (int j = 0; j < count; ++j) keep(static_cast<int>(static_cast<double>(j) * n / count));
  }
  // END BLOCK
)";

const char* const kResidualSamplingBlock = R"(  // BLOCK residual_sampling: b uniform draws from the n_s keys not kept, weight n_s / b each
  {
    std::vector<int> residual;
    for (int i = 0; i < n; ++i)
      if (!kept[i]) residual.push_back(i);
    const int n_s = static_cast<int>(residual.size());
    const int draws = std::min(n_s, static_cast<int>(1.0 * (budget - used)));
    if (draws > 0) {
      std::mt19937_64 rng(row.seed);
      std::uniform_int_distribution<int> pick(0, n_s - 1);
      const double weight = static_cast<double>(n_s) / draws;
      for (int b = 0; b < draws; ++b) out.add(residual[pick(rng)], weight);
    }
  }
  // END BLOCK
)";

const char* const kResidualStratifiedBlock = R"(  // BLOCK residual_stratified: b evenly spaced keys of the n_s not kept, weight n_s / b each
  {
    std::vector<int> residual;
    for (int i = 0; i < n; ++i)
      if (!kept[i]) residual.push_back(i);
    const int n_s = static_cast<int>(residual.size());
    const int draws = std::min(n_s, static_cast<int>(1.0 * (budget - used)));
    if (draws > 0) {
      const double weight = static_cast<double>(n_s) / draws;
      const double offset = static_cast<double>(row.seed >> 11) * 0x1.0p-53;  // in [0, 1), per row
      for (int b = 0; b < draws; ++b)
        out.add(residual[std::min(n_s - 1, static_cast<int>((b + offset) * n_s / draws))], weight);
    }
  }
  // END BLOCK
)";

std::vector<BuildingBlock> make_library() {
  return {
      {"sink", "sink", "the first keys, which attract attention mass in most heads", kSinkBlock},
      {"window", "window", "the most recent keys (a sliding window)", kWindowBlock},
      {"topk", "scores", "oracle top-k: the highest exact scores among keys not yet kept", kTopkBlock},
      {"topk_recent", "scores", "top-k with a positional bias towards recent keys", kTopkRecentBlock},
      {"top_p", "scores", "oracle top-p: best keys until they hold a share of the softmax mass", kTopPBlock},
      {"stride", "stride", "evenly spaced keys across the whole context", kStrideBlock},
      {"residual_sampling", "sampling",
       "uniform draws with replacement from the keys not kept, weight n_s / b per draw (unbiased)",
       kResidualSamplingBlock},
      {"residual_stratified", "sampling",
       "evenly spaced keys of those not kept, weight n_s / b each (stratified, deterministic)",
       kResidualStratifiedBlock},
  };
}

}  // namespace

const std::vector<BuildingBlock>& building_blocks() {
  static const std::vector<BuildingBlock> library = make_library();
  return library;
}

const BuildingBlock* find_building_block(const std::string& name) {
  for (const BuildingBlock& b : building_blocks())
    if (b.name == name) return &b;
  return nullptr;
}

double recipe_size_feature(const std::string& source) {
  Recipe recipe;
  return parse_recipe(evolve_block_body(source), &recipe) ? static_cast<double>(recipe.names.size()) / 8.0 : 0.0;
}

bool parse_recipe(const std::string& body, Recipe* recipe) {
  // Line endings may have been normalized; compare on LF text.
  std::string text = body;
  text.erase(std::remove(text.begin(), text.end(), '\r'), text.end());
  if (text.rfind(kPrelude, 0) != 0) return false;
  Recipe parsed;
  size_t at = std::string(kPrelude).size();
  while (text.compare(at, std::string(kBlockStart).size(), kBlockStart) == 0) {
    const size_t name_begin = at + std::string(kBlockStart).size();
    const size_t name_end = text.find(':', name_begin);
    const size_t end = text.find(kBlockEnd, at);
    if (name_end == std::string::npos || end == std::string::npos) return false;
    const size_t line_end = text.find('\n', end);
    if (line_end == std::string::npos) return false;
    const std::string name = text.substr(name_begin, name_end - name_begin);
    if (!find_building_block(name)) return false;
    parsed.names.push_back(name);
    parsed.texts.push_back(text.substr(at, line_end + 1 - at));
    at = line_end + 1;
  }
  if (text.substr(at) != kEnd) return false;
  *recipe = std::move(parsed);
  return true;
}

std::string render_recipe(const Recipe& recipe) {
  std::string body = kPrelude;
  for (const BuildingBlock& b : building_blocks())
    for (size_t i = 0; i < recipe.names.size(); ++i)
      if (recipe.names[i] == b.name) {
        body += recipe.texts[i];
        break;
      }
  return body + kEnd;
}

}  // namespace adrs

// The offline proposer's building-block library: known sparse-attention techniques written in the
// masker API, each a self-contained piece of an EVOLVE block body ("recipe"). A recipe body is
//
//   void select(...) {            <- prelude: n, budget = target_density * n, keep(i) that never
//     ... prelude ...                exceeds the budget or keeps a key twice
//     // BLOCK sink: ...          <- blocks, in library order, each between BLOCK / END BLOCK
//     { ... }
//     // END BLOCK
//     ...
//   }
//
// Blocks: sink (first keys), window (most recent keys), topk (oracle top-k by exact score),
// topk_recent (top-k with a positional bias towards recent keys), top_p (smallest set holding a
// share of the softmax mass), residual_sampling (uniform draws with replacement from the keys not
// yet kept, weight n_s / b each: the unbiased vAttention-style estimator), stride (every s-th key).
// The library encodes published ideas; it cannot invent new ones (that needs an LLM).
#pragma once

#include <string>
#include <vector>

namespace adrs {

struct BuildingBlock {
  std::string name;
  std::string group;        // at most one block of a group in a recipe (topk variants share one)
  std::string description;  // one line, shown in docs and in the candidate's message
  std::string code;         // the block's text, BLOCK / END BLOCK lines included
};

// The library, in the order blocks appear in a recipe (deterministic picks first, sampling last).
const std::vector<BuildingBlock>& building_blocks();
const BuildingBlock* find_building_block(const std::string& name);

// A recipe parsed from an EVOLVE block body: the names and texts of its blocks in order.
struct Recipe {
  std::vector<std::string> names;
  std::vector<std::string> texts;  // the block's current text (its constants may be tuned)
};

// Parses `body`; false when it is not a recipe (the starter, an LLM candidate).
bool parse_recipe(const std::string& body, Recipe* recipe);
// The population's "blocks" feature: a recipe's block count / 8; 0 for a source that is not one.
double recipe_size_feature(const std::string& source);
// Renders a recipe as a full EVOLVE block body (blocks sorted into library order).
std::string render_recipe(const Recipe& recipe);

}  // namespace adrs

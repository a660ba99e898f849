#include "driver/propose/offline_proposer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "driver/propose/building_blocks.h"
#include "util/hash.h"

namespace adrs {

namespace {

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string format_real(double v) {
  std::string s = fmt::format("{:.4g}", std::fabs(v));
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return v < 0 ? "(-" + s + ")" : s;
}

}  // namespace

std::vector<NumericLiteral> find_numeric_literals(const std::string& t) {
  std::vector<NumericLiteral> out;
  size_t i = 0;
  const size_t n = t.size();
  while (i < n) {
    const char c = t[i];
    if (c == '/' && i + 1 < n && t[i + 1] == '/') {
      while (i < n && t[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && t[i + 1] == '*') {
      const size_t end = t.find("*/", i + 2);
      i = end == std::string::npos ? n : end + 2;
    } else if (c == '"' || c == '\'') {
      for (++i; i < n && t[i] != c; ++i)
        if (t[i] == '\\') ++i;
      ++i;
    } else if (c == '#') {  // preprocessor lines (#include <...>) hold no tunable numbers
      while (i < n && t[i] != '\n') ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (i < n && ident_char(t[i])) ++i;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i + 1 < n && std::isdigit(static_cast<unsigned char>(t[i + 1])))) {
      const size_t begin = i;
      bool real = false;
      while (i < n && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) real |= t[i++] == '.';
      if (i < n && (t[i] == 'e' || t[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (t[j] == '+' || t[j] == '-')) ++j;
        if (j < n && std::isdigit(static_cast<unsigned char>(t[j]))) {
          real = true;
          i = j;
          while (i < n && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
        }
      }
      size_t end = i;
      if (real && i < n && (t[i] == 'f' || t[i] == 'F')) ++i;
      if (i < n && (ident_char(t[i]) || t[i] == '.')) {  // 0x.., 10ULL, 1.2.3: not ours to touch
        while (i < n && (ident_char(t[i]) || t[i] == '.')) ++i;
        continue;
      }
      NumericLiteral lit;
      lit.begin = begin;
      lit.end = end;
      lit.value = std::strtod(t.substr(begin, end - begin).c_str(), nullptr);
      lit.is_integer = !real;
      if (lit.value != 0.0) out.push_back(lit);
    } else {
      ++i;
    }
  }
  return out;
}

std::string tune_one_constant(const std::string& text, SplitMix& rng, std::string* what) {
  const std::vector<NumericLiteral> literals = find_numeric_literals(text);
  if (literals.empty()) return "";
  const NumericLiteral& lit = literals[rng.below(static_cast<int>(literals.size()))];
  const std::string before = text.substr(lit.begin, lit.end - lit.begin);
  std::string after;
  for (int attempt = 0; attempt < 8 && (after.empty() || after == before); ++attempt) {
    if (lit.is_integer) {
      const long step = std::max(1L, std::lround(std::fabs(lit.value) * 0.2 * std::fabs(rng.normal())));
      const long v = static_cast<long>(lit.value) + (rng.uniform() < 0.5 ? -step : step);
      after = v < 0 ? "(" + std::to_string(v) + ")" : std::to_string(v);
    } else if (rng.uniform() < 0.85) {
      after = format_real(lit.value * std::exp(0.25 * rng.normal()));
    } else {
      // Additive steps are what lets a real cross zero (a bias may want the other sign).
      after = format_real(lit.value + 0.1 * std::max(std::fabs(lit.value), 0.1) * rng.normal());
    }
  }
  if (after == before) return "";
  *what = before + " -> " + after;
  return text.substr(0, lit.begin) + after + text.substr(lit.end);
}

namespace {

// Structural edit of a recipe: add a block of an absent group, remove one, or swap a variant.
bool edit_recipe(Recipe& recipe, SplitMix& rng, std::string* what) {
  std::set<std::string> groups;
  for (const std::string& name : recipe.names) groups.insert(find_building_block(name)->group);
  std::vector<std::string> moves;
  for (const BuildingBlock& b : building_blocks()) {
    if (!groups.count(b.group)) moves.push_back("add " + b.name);
    for (const std::string& name : recipe.names)
      if (find_building_block(name)->group == b.group && name != b.name) moves.push_back("swap " + name + " " + b.name);
  }
  if (recipe.names.size() > 1)
    for (const std::string& name : recipe.names) moves.push_back("remove " + name);
  if (moves.empty()) return false;
  const std::string move = moves[rng.below(static_cast<int>(moves.size()))];
  std::vector<std::string> words;
  for (size_t at = 0; at != std::string::npos;) {
    const size_t space = move.find(' ', at);
    words.push_back(move.substr(at, space == std::string::npos ? std::string::npos : space - at));
    at = space == std::string::npos ? space : space + 1;
  }
  if (words[0] == "add") {
    recipe.names.push_back(words[1]);
    recipe.texts.push_back(find_building_block(words[1])->code);
    *what = "add block " + words[1] + " (" + find_building_block(words[1])->description + ")";
  } else {
    for (size_t i = 0; i < recipe.names.size(); ++i) {
      if (recipe.names[i] != words[1]) continue;
      if (words[0] == "remove") {
        recipe.names.erase(recipe.names.begin() + static_cast<long>(i));
        recipe.texts.erase(recipe.texts.begin() + static_cast<long>(i));
        *what = "remove block " + words[1];
      } else {
        recipe.names[i] = words[2];
        recipe.texts[i] = find_building_block(words[2])->code;
        *what = "swap block " + words[1] + " for " + words[2];
      }
      break;
    }
  }
  return true;
}

// Takes each group's block from the parent or from the other recipe; a group only one of them has
// is inherited half of the time.
Recipe cross_recipes(const Recipe& parent, const Recipe& other, SplitMix& rng) {
  auto block_of = [](const Recipe& r, const std::string& group) -> int {
    for (size_t i = 0; i < r.names.size(); ++i)
      if (find_building_block(r.names[i])->group == group) return static_cast<int>(i);
    return -1;
  };
  Recipe child;
  std::set<std::string> done;
  for (const BuildingBlock& b : building_blocks()) {
    if (!done.insert(b.group).second) continue;
    const int mine = block_of(parent, b.group), theirs = block_of(other, b.group);
    const Recipe* from = nullptr;
    int index = -1;
    if (mine >= 0 && theirs >= 0) {
      const bool take_mine = rng.uniform() < 0.5;
      from = take_mine ? &parent : &other;
      index = take_mine ? mine : theirs;
    } else if ((mine >= 0 || theirs >= 0) && rng.uniform() < 0.5) {
      from = mine >= 0 ? &parent : &other;
      index = mine >= 0 ? mine : theirs;
    }
    if (!from) continue;
    child.names.push_back(from->names[index]);
    child.texts.push_back(from->texts[index]);
  }
  return child;
}

std::string propose_body(const ProposalRequest& request, SplitMix& rng, MutationKind* kind, std::string* what) {
  const std::string body = evolve_block_body(request.parent.source);
  Recipe recipe;
  const bool is_recipe = parse_recipe(body, &recipe);
  if (*kind == MutationKind::kCrossover) {
    Recipe other;
    if (is_recipe && !request.inspirations.empty() &&
        parse_recipe(evolve_block_body(request.inspirations[0].source), &other)) {
      Recipe child = cross_recipes(recipe, other, rng);
      if (!child.names.empty()) {
        *what = "crossover with candidate " + std::to_string(request.inspirations[0].id);
        return render_recipe(child);
      }
    }
    *kind = MutationKind::kFullRewrite;
  }
  if (*kind == MutationKind::kFullRewrite) {
    if (!is_recipe) {
      // The first structural edit turns a foreign source into a recipe with the starter's ideas.
      recipe = Recipe{{"sink", "window"}, {find_building_block("sink")->code, find_building_block("window")->code}};
      std::string added;
      edit_recipe(recipe, rng, &added);
      *what = "rewrite into building blocks: sink + window, then " + added;
      return render_recipe(recipe);
    }
    if (edit_recipe(recipe, rng, what)) return render_recipe(recipe);
    *kind = MutationKind::kDiff;
  }
  // Constant tuning: one literal, sometimes two. In a recipe only the blocks' own numbers move.
  *kind = *kind == MutationKind::kFixUp ? MutationKind::kFixUp : MutationKind::kDiff;
  const int changes = rng.uniform() < 0.3 ? 2 : 1;
  std::string result = body, description;
  for (int c = 0; c < changes; ++c) {
    std::string change, tuned;
    if (is_recipe && !recipe.names.empty()) {
      const size_t i = static_cast<size_t>(rng.below(static_cast<int>(recipe.names.size())));
      tuned = tune_one_constant(recipe.texts[i], rng, &change);
      if (!tuned.empty()) {
        recipe.texts[i] = tuned;
        change = recipe.names[i] + ": " + change;
        tuned = render_recipe(recipe);
      }
    } else {
      tuned = tune_one_constant(result, rng, &change);
    }
    if (tuned.empty()) continue;
    result = tuned;
    description += (description.empty() ? "tune " : ", ") + change;
  }
  *what = description;
  return result == body ? "" : result;
}

}  // namespace

Proposal OfflineProposer::propose(const ProposalRequest& request, const std::atomic<bool>& cancel) {
  const auto start = std::chrono::steady_clock::now();
  Proposal p;
  p.model = "offline";
  if (cancel.load()) {
    p.status = Proposal::Status::kCancelled;
    return p;
  }
  SplitMix rng(request.seed);
  std::string body, what;
  MutationKind kind = request.kind;
  // A move that changes nothing (a literal perturbed back to itself) is retried with fresh draws.
  for (int attempt = 0; attempt < 16 && body.empty(); ++attempt) {
    kind = request.kind;
    body = propose_body(request, rng, &kind, &what);
  }
  p.kind = kind;
  if (body.empty()) {
    p.status = Proposal::Status::kPatchError;
    p.patch_error = PatchError::kNoChange;
    p.message = "the offline proposer found nothing to change (no numeric constants and no building blocks)";
  } else {
    const PatchResult patched = replace_evolve_block(request.parent.source, body);
    if (patched.ok()) {
      p.status = Proposal::Status::kOk;
      p.source = patched.source;
      p.message = what;
    } else {
      p.status = Proposal::Status::kPatchError;
      p.patch_error = patched.error;
      p.message = patched.message;
    }
  }
  p.latency_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return p;
}

}  // namespace adrs

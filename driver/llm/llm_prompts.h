// Prompt assembly for the LLM proposer: the template variables of a ProposalRequest (parent source
// and metrics with diagnostics, recent attempts, inspirations, fix-up feedback) rendered through
// the files in prompts/ (system.txt, diff.txt, rewrite.txt, crossover.txt, fixup.txt).
#pragma once

#include <string>

#include "driver/llm/llm_client.h"
#include "driver/llm/prompt_template.h"
#include "driver/propose/proposer.h"

namespace adrs {

// Includes a candidate may use (the ones the starter and the baselines use). Shown in the prompt.
extern const char* const kAllowedIncludes;

// The prompts/ folder of the source tree (the default of [llm] prompts_dir).
std::string default_prompts_dir();

// The prompts folder a run uses: `configured` when given; else ./prompts when the current
// directory has one (the README tells users to edit the templates there); else the shipped ones.
// Returned absolute, so log lines name it unambiguously.
std::string resolve_prompts_dir(const std::string& configured);

// The template file for a mutation kind ("diff.txt", ...). The seed kind has none.
const char* prompt_file(MutationKind kind);

// Human-readable metrics: score, error, density, per-row percentiles, error by entropy bucket.
std::string format_metrics(const CandidateView& candidate);

PromptVariables prompt_variables(const ProposalRequest& request);

// Renders the system and user prompts of `request` from the templates in `prompts_dir`.
Status build_prompt(const std::string& prompts_dir, const ProposalRequest& request, LlmRequest* out);

}  // namespace adrs

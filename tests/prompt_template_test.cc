// Prompt templates: substitution, sections, errors naming file and line, and the shipped prompts.
#include <gtest/gtest.h>

#include "driver/llm/llm_prompts.h"
#include "driver/llm/prompt_template.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

TEST(PromptTemplate, SubstitutesVariablesAndSections) {
  std::string out;
  ASSERT_TRUE(render_template("t.txt", "a {{x}} b{{! dropped }}\n{{#y}}\ny is {{y}}\n{{/y}}\n{{#z}}\nhidden {{x}}\n{{/z}}\nend",
                              {{"x", "X"}, {"y", "Y"}, {"z", ""}}, &out)
                  .ok());
  EXPECT_EQ(out, "a X b\ny is Y\nend");
}

TEST(PromptTemplate, ErrorsNameFileAndLine) {
  std::string out;
  Status s = render_template("prompts/diff.txt", "line one\nline two {{parnet_source}}\n", {{"parent_source", ""}}, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("prompts/diff.txt:2: unknown variable {{parnet_source}}"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("parent_source"), std::string::npos);
  s = render_template("f.txt", "\n\n{{#a}} never closed", {{"a", "1"}}, &out);
  EXPECT_NE(s.message().find("f.txt:3: {{#a}} is never closed"), std::string::npos) << s.message();
  s = render_template("f.txt", "{{#a}}{{/b}}", {{"a", "1"}, {"b", ""}}, &out);
  EXPECT_NE(s.message().find("f.txt:1: {{/b}} closes {{#a}}"), std::string::npos) << s.message();
  s = render_template("f.txt", "x\n{{a", {{"a", "1"}}, &out);
  EXPECT_NE(s.message().find("f.txt:2: '{{' without a closing '}}'"), std::string::npos) << s.message();
  s = render_template_file("/no/such/dir", "system.txt", {}, &out);
  EXPECT_NE(s.message().find("/no/such/dir/system.txt"), std::string::npos);
}

ProposalRequest sample_request(MutationKind kind) {
  ProposalRequest r;
  r.kind = kind;
  r.workload = "smoke";
  r.target_density = 0.1;
  r.parent.id = 7;
  r.parent.source = test::read_file(test::source_dir() + "/masker_template/evolve_masker.cpp");
  r.parent.score = -0.31;
  r.parent.error = 0.31;
  r.parent.density = 0.09;
  r.parent.metrics_json = R"({"penalty":0,"row_error":{"p50":0.2,"p90":0.5,"max":0.9},"attention_mass_kept":0.7,
    "weight_mass":0.09,"error_by_entropy":[{"entropy_low":0,"entropy_high":0.25,"rows":10,"mean_error":0.05,"mean_density":0.09},
    {"entropy_low":0.75,"entropy_high":1,"rows":12,"mean_error":0.61,"mean_density":0.09}]})";
  r.recent_attempts = {{8, MutationKind::kDiff, "compile_error: expected ';'", 0}, {9, MutationKind::kDiff, "ok", -0.29}};
  CandidateView other = r.parent;
  other.id = 3;
  other.score = -0.2;
  r.inspirations = {other};
  r.failed_source = r.parent.source;
  r.failure_feedback = "error: 'foo' was not declared in this scope";
  return r;
}

TEST(Prompts, ShippedTemplatesRenderWithTheTeachingParts) {
  for (MutationKind kind : {MutationKind::kDiff, MutationKind::kFullRewrite, MutationKind::kCrossover, MutationKind::kFixUp}) {
    SCOPED_TRACE(mutation_kind_name(kind));
    LlmRequest prompt;
    const Status s = build_prompt(default_prompts_dir(), sample_request(kind), &prompt);
    ASSERT_TRUE(s.ok()) << s.message();
    // System prompt: the task, the API header verbatim, the estimator semantics, the rules.
    EXPECT_NE(prompt.system.find("at or under the target density 0.1"), std::string::npos);
    EXPECT_NE(prompt.system.find(test::read_file(test::source_dir() + "/masker_template/masker_api.h")), std::string::npos);
    EXPECT_NE(prompt.system.find("n_s / b"), std::string::npos);
    EXPECT_NE(prompt.system.find("EVOLVE-BLOCK-START"), std::string::npos);
    EXPECT_NE(prompt.system.find("<cmath>"), std::string::npos);
    EXPECT_NE(prompt.system.find("threads"), std::string::npos);
    EXPECT_EQ(prompt.system.find("{{"), std::string::npos);
    EXPECT_EQ(prompt.user.find("{{"), std::string::npos);
    // User prompt: parent metrics with diagnostics.
    EXPECT_NE(prompt.user.find("p90 0.5000"), std::string::npos) << prompt.user;
    EXPECT_NE(prompt.user.find("0.75-1.00"), std::string::npos) << prompt.user;
  }
  LlmRequest diff;
  ASSERT_TRUE(build_prompt(default_prompts_dir(), sample_request(MutationKind::kDiff), &diff).ok());
  EXPECT_NE(diff.user.find("// EVOLVE-BLOCK-START"), std::string::npos);
  EXPECT_NE(diff.user.find("#8 (diff): compile_error"), std::string::npos);
  EXPECT_NE(diff.user.find("Candidate #3: score -0.20000"), std::string::npos);
  EXPECT_NE(diff.user.find("<<<<<<< SEARCH"), std::string::npos);
  LlmRequest fix;
  ASSERT_TRUE(build_prompt(default_prompts_dir(), sample_request(MutationKind::kFixUp), &fix).ok());
  EXPECT_NE(fix.user.find("'foo' was not declared"), std::string::npos);
  LlmRequest cross;
  ASSERT_TRUE(build_prompt(default_prompts_dir(), sample_request(MutationKind::kCrossover), &cross).ok());
  EXPECT_NE(cross.user.find("Program B (candidate #3)"), std::string::npos);
}

TEST(Prompts, NoAttemptsNoInspirationsLeavesNoEmptyHeadings) {
  ProposalRequest r = sample_request(MutationKind::kDiff);
  r.recent_attempts.clear();
  r.inspirations.clear();
  LlmRequest prompt;
  ASSERT_TRUE(build_prompt(default_prompts_dir(), r, &prompt).ok());
  EXPECT_EQ(prompt.user.find("Recent attempts"), std::string::npos);
  EXPECT_EQ(prompt.user.find("for inspiration"), std::string::npos);
}

}  // namespace
}  // namespace adrs

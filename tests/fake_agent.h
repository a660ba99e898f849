// ScriptedAgent: a FakeLlmServer handler that plays a coding agent, deterministically, in either
// provider's shape (the request path decides). Used by the agent tests, the demo server
// (tests/fake_agent_main.cc, runs/agent_demo.toml) and the agent benchmark (bench/agent_bench.sh).
//
// Its "model" drafts with the offline mutator (constant tuning or a building-block edit of the
// parent), and a share of its drafts carry a compile error (a line `int draft_bug = ;`), like an
// LLM's. With tools it works like an agent: reads masker_api.h and parent.cpp (two calls in one
// answer), evaluates a draft, fixes a compile error it is shown, evaluates `variants` drafts in all,
// and submits the best by the scores it read. Without tools (the one-shot proposer) it answers its
// first draft as an EVOLVE block, compile errors included: the same model, one shot.
// The conversation's salt travels in its tool call ids ("call_<salt>_<turn>_<i>"), so the handler
// keeps no state between requests.
#pragma once

#include <string>

#include "tests/fake_llm_server.h"

namespace adrs::test {

struct ScriptedAgentOptions {
  double compile_error_rate = 0.3;  // share of drafts written with a compile error
  int variants = 2;                 // drafts evaluated (after fixes) before submitting the best
};

FakeReply scripted_agent_reply(const RecordedRequest& request, int index, const ScriptedAgentOptions& options);

// Drafts for tests: the parent with a compile error added, and the same error removed.
std::string with_compile_error(const std::string& source);
std::string without_compile_error(const std::string& source);

}  // namespace adrs::test

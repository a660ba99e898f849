// make_llm_proposer: kept apart from llm_proposer.cc so that the proposer itself does not depend
// on the run database's implementation.
#include "driver/llm/llm_proposer.h"

namespace adrs {

Status make_llm_proposer(const nlohmann::json& llm, RunDb* db, std::unique_ptr<Proposer>* out) {
  LlmConfig config;
  if (Status s = parse_llm_config(llm, &config); !s.ok()) return s;
  LlmCallSink sink;
  if (db != nullptr)
    sink = [db](const LlmCallRecord& call) { (void)db->record_llm_call(call); };  // a failed record must not lose the proposal
  std::unique_ptr<LlmProposer> proposer;
  if (Status s = LlmProposer::Create(config, std::move(sink), &proposer); !s.ok()) return s;
  *out = std::move(proposer);
  return Status::Ok();
}

}  // namespace adrs

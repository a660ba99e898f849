// End to end: `adrs run` with proposer = "agent" against the scripted loopback agent
// (tests/fake_agent.h): transcripts stored and shown, drafts counted apart and never candidates,
// and a kill -9 in the middle of a conversation resumed without a lost or duplicated candidate.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "driver/run/run_db.h"
#include "tests/fake_agent.h"
#include "tests/fake_llm_server.h"
#include "tests/test_util.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

std::string agent_config(const std::string& base_url, int budget, const char* provider) {
  return std::string("[run]\nname = \"agent\"\nseed = 5\n[evaluation]\nworkload = \"smoke\"\n[search]\nparallel = 2\nislands = 1\n") +
         "[proposer]\nproposer = \"agent\"\n[stop]\nmax_candidates = " + std::to_string(budget) + "\n" +
         "[llm]\nmax_attempts = 2\nretry_base_s = 0.01\nretry_max_s = 0.02\n[[llm.models]]\nname = \"scripted\"\nprovider = \"" +
         provider + "\"\nbase_url = \"" + base_url + "\"\napi_key_env = \"\"\nweight = 1\ninput_price_per_mtok = 1\n" +
         "output_price_per_mtok = 10\ntimeout = 30\n[llm.agent]\nmax_turns = 8\nmax_draft_evals = 4\n";
}

pid_t spawn_adrs(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (::chdir(test::source_dir().c_str()) != 0) ::_exit(120);
  FILE* out = std::fopen(log.c_str(), "a");
  if (out) {
    ::dup2(fileno(out), 1);
    ::dup2(fileno(out), 2);
  }
  std::vector<std::string> full{test::binary_dir() + "/adrs"};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  ::_exit(121);
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct RunContents {
  std::vector<CandidateRow> rows;
  std::vector<AgentTurnRecord> turns;
};

RunContents contents_of(const std::string& run_dir) {
  RunContents c;
  std::unique_ptr<RunDb> db;
  EXPECT_TRUE(RunDb::Open(run_dir + "/run.db", RunDb::Mode::kReadOnly, &db).ok());
  if (!db) return c;
  EXPECT_TRUE(db->list_candidates(&c.rows, true).ok());
  EXPECT_TRUE(db->list_agent_turns(0, &c.turns).ok());
  return c;
}

// Every id from 1 to budget once, each terminal, none holding a draft's planted compile error.
void expect_whole_population(const RunContents& c, int budget) {
  ASSERT_EQ(static_cast<int>(c.rows.size()), budget);
  for (int i = 0; i < budget; ++i) {
    EXPECT_EQ(c.rows[i].id, i + 1);
    EXPECT_TRUE(c.rows[i].terminal()) << c.rows[i].id << " " << c.rows[i].status;
  }
}

class AgentRunEndToEnd : public ::testing::TestWithParam<const char*> {};

TEST_P(AgentRunEndToEnd, StoresTranscriptsAndCountsDraftsApart) {
  const std::string dir = (fs::temp_directory_path() / ("adrs-agent-e2e-" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  test::FakeLlmServer server;
  test::ScriptedAgentOptions options;
  server.set_default([options](const test::RecordedRequest& r, int i) { return test::scripted_agent_reply(r, i, options); });
  const int budget = 6;
  std::ofstream(dir + "/agent.toml") << agent_config(server.base_url(), budget, GetParam());
  const auto run = test::run_adrs("run --config " + dir + "/agent.toml --runs-dir " + dir + " --quiet --json");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const RunContents c = contents_of(dir + "/agent");
  expect_whole_population(c, budget);
  std::map<int64_t, int> ends, drafts;
  int total_drafts = 0;
  for (const AgentTurnRecord& t : c.turns) {
    ends[t.candidate_id] += t.kind == "end";
    drafts[t.candidate_id] += t.draft_evals;
    total_drafts += t.draft_evals;
  }
  for (const CandidateRow& r : c.rows) {
    if (r.id == 1) continue;
    EXPECT_EQ(ends[r.id], 1) << "candidate " << r.id << " has one ended proposal";
    EXPECT_GE(drafts[r.id], 2) << r.id;
    EXPECT_EQ(r.source.find("draft_bug"), std::string::npos) << r.id << ": a draft's error reached a candidate";
    EXPECT_NE(r.message.find("agent"), std::string::npos) << r.id << ": " << r.message;
  }
  const auto status = nlohmann::json::parse(test::run_adrs("status " + dir + "/agent --json").out);
  EXPECT_EQ(status["draft_evaluations"].get<int>(), total_drafts);
  EXPECT_EQ(status["candidates"]["total"].get<int>(), budget) << "drafts are not candidates";
  const auto show = test::run_adrs("show " + dir + "/agent 2 --transcript");
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("agent proposal 1, turn 1"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("--- tool evaluate"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("ended: submitted"), std::string::npos) << show.out;
  const auto json = nlohmann::json::parse(test::run_adrs("show " + dir + "/agent 2 --transcript --json").out);
  EXPECT_GE(json["transcript"].size(), 4u);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(BothProviders, AgentRunEndToEnd, ::testing::Values("openai", "anthropic"));

TEST(AgentRunKill, KilledMidConversationTheResumeRedoesTheProposalWithoutLossOrDuplicate) {
  const std::string dir = (fs::temp_directory_path() / ("adrs-agent-kill-" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  test::FakeLlmServer server;
  std::atomic<int> mid_conversation{0};
  std::atomic<bool> armed{true};
  const test::ScriptedAgentOptions options;
  server.set_default([&](const test::RecordedRequest& r, int i) {
    test::FakeReply reply = test::scripted_agent_reply(r, i, options);
    size_t answers = 0;
    for (size_t at = r.body.find("\"role\":\"assistant\""); at != std::string::npos; at = r.body.find("\"role\":\"assistant\"", at + 1)) ++answers;
    if (armed.load() && answers >= 2) {  // the third turn of a conversation: hold it until the kill
      ++mid_conversation;
      reply.delay_s = 20;
    }
    return reply;
  });
  const int budget = 6;
  std::ofstream(dir + "/agent.toml") << agent_config(server.base_url(), budget, "openai");
  const std::string log = dir + "/log.txt";
  const pid_t pid = spawn_adrs({"run", "--config", dir + "/agent.toml", "--runs-dir", dir, "--quiet"}, log);
  for (int waited = 0; mid_conversation.load() == 0 && waited < 6000; ++waited) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_GT(mid_conversation.load(), 0) << test::read_file(log);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  wait_exit(pid);
  armed = false;
  const RunContents before = contents_of(dir + "/agent");
  ASSERT_EQ(wait_exit(spawn_adrs({"resume", dir + "/agent", "--quiet"}, log)), 0) << test::read_file(log);
  const RunContents after = contents_of(dir + "/agent");
  expect_whole_population(after, budget);
  // The interrupted candidate: its first proposal has turns and no end; the resume's proposal 2 ended.
  std::map<int64_t, std::map<int, int>> ends;  // candidate -> proposal -> end records
  for (const AgentTurnRecord& t : after.turns) ends[t.candidate_id][t.proposal] += t.kind == "end";
  int redone = 0;
  for (const auto& [id, proposals] : ends) {
    if (proposals.size() < 2) continue;
    ++redone;
    EXPECT_EQ(proposals.at(1), 0) << "candidate " << id;
    EXPECT_EQ(proposals.rbegin()->second, 1) << "candidate " << id;
  }
  EXPECT_GE(redone, 1);
  for (const CandidateRow& r : before.rows)
    if (r.terminal()) {
      const CandidateRow& same = after.rows.at(static_cast<size_t>(r.id - 1));
      EXPECT_EQ(same.status, r.status) << r.id;
      EXPECT_EQ(same.source_hash, r.source_hash) << r.id << ": a finished candidate was not redone";
    }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace adrs

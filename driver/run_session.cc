#include "driver/run_session.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include "driver/llm_proposer.h"
#include "driver/offline_proposer.h"
#include "util/subprocess.h"

namespace adrs {

namespace fs = std::filesystem;

std::string run_db_path(const std::string& run_dir) { return run_dir + "/run.db"; }

Status open_run_for_reading(const std::string& run_dir, std::unique_ptr<RunDb>* db) {
  std::error_code ec;
  if (!fs::exists(run_dir, ec)) return Status::Error("no run directory '" + run_dir + "' (runs live in runs/<name>/; see ls runs)");
  if (!fs::is_directory(run_dir, ec)) return Status::Error("'" + run_dir + "' is a file, not a run directory (runs live in runs/<name>/)");
  if (!fs::exists(run_db_path(run_dir), ec))
    return Status::Error("'" + run_dir + "' is not an adrs run (it has no run.db); start one with adrs run --config runs/demo.toml");
  return RunDb::Open(run_db_path(run_dir), RunDb::Mode::kReadOnly, db);
}

Status stored_config(const RunDb& db, RunConfig* config) {
  const std::string text = db.state("config");
  if (text.empty()) return Status::Error(db.path() + " holds no run config (the run was never started properly)");
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return Status::Error(db.path() + ": the stored run config is damaged");
  return config_from_json(j, config);
}

Status RunLock::Acquire(const std::string& run_dir, std::unique_ptr<RunLock>* out) {
  const std::string path = run_dir + "/lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error("cannot create " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = {0};
    const ssize_t got = ::pread(fd, holder, sizeof holder - 1, 0);
    ::close(fd);
    std::string pid = got > 0 ? std::string(holder, static_cast<size_t>(got)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return Status::Error("another adrs process (pid " + pid + ") is running " + run_dir +
                         "; watch it with adrs status " + run_dir + ", or stop it first");
  }
  const std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    // The pid is only a hint for the message above; the lock itself is what matters.
  }
  out->reset(new RunLock());
  (*out)->fd_ = fd;
  return Status::Ok();
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {
std::atomic<bool> g_interrupted{false};
void on_interrupt(int) {
  if (g_interrupted.exchange(true)) ::_exit(130);
  static const char message[] = "\nadrs: stopping: abandoning work in flight (Ctrl-C again to quit at once)\n";
  [[maybe_unused]] const ssize_t ignored = ::write(2, message, sizeof message - 1);
}
ProposerFactory& llm_factory() {
  static ProposerFactory factory;
  return factory;
}
}  // namespace

const std::atomic<bool>& install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // A full disk or file-size limit must become a write error with a message, not a silent death.
  // (A handler, not SIG_IGN: handlers reset at exec, so children keep the default.)
  struct sigaction file_size {};
  file_size.sa_handler = [](int) {};
  sigemptyset(&file_size.sa_mask);
  sigaction(SIGXFSZ, &file_size, nullptr);
  return g_interrupted;
}

void set_llm_proposer_factory(ProposerFactory factory) { llm_factory() = std::move(factory); }

Status make_proposer(const RunConfig& config, RunDb& db, std::unique_ptr<Proposer>* out) {
  if (config.proposer == "offline") {
    *out = std::make_unique<OfflineProposer>();
    return Status::Ok();
  }
  if (config.proposer == "llm") {
    if (llm_factory()) return llm_factory()(config, db, out);  // a test or another build's override
    return make_llm_proposer(config.llm, &db, out);
  }
  return Status::Error("unknown proposer '" + config.proposer + "'; choose offline or llm");
}

std::string adrs_command_name() {
  std::error_code ec;
  const fs::path exe = fs::path(executable_dir()) / "adrs";
  const fs::path relative = fs::relative(exe, fs::current_path(ec), ec);
  if (!ec && !relative.empty() && relative.string().rfind("..", 0) != 0) return relative.string();
  return exe.string();
}

}  // namespace adrs

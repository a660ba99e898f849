#include "driver/run/run_session.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "driver/llm/agent_proposer.h"
#include "driver/llm/llm_proposer.h"
#include "driver/propose/offline_proposer.h"
#include "util/subprocess.h"

namespace adrs {

namespace fs = std::filesystem;

std::string run_db_path(const std::string& run_dir) { return run_dir + "/run.db"; }

std::string resolve_run_dir(const std::string& given) {
  std::error_code ec;
  std::string trimmed = given;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  if (fs::exists(run_db_path(trimmed), ec) || trimmed.find('/') != std::string::npos || trimmed.empty() || trimmed[0] == '.')
    return trimmed;
  const std::string named = "runs/" + trimmed;
  return fs::exists(run_db_path(named), ec) ? named : trimmed;
}

Status open_run_for_reading(const std::string& run_dir, std::unique_ptr<RunDb>* db) {
  std::error_code ec;
  if (!fs::exists(run_dir, ec)) {
    std::string names;
    if (run_dir.find('/') == std::string::npos && fs::is_directory("runs", ec))
      for (const auto& entry : fs::directory_iterator("runs", ec))
        if (fs::exists(run_db_path(entry.path().string()), ec)) names += (names.empty() ? "" : ", ") + entry.path().filename().string();
    return Status::Error("no run directory '" + run_dir + "'" + (run_dir.find('/') == std::string::npos ? " (nor runs/" + run_dir + ")" : "") +
                         "; give a run's folder or its name in runs/" + (names.empty() ? "" : " (runs here: " + names + ")"));
  }
  if (!fs::is_directory(run_dir, ec)) return Status::Error("'" + run_dir + "' is a file, not a run directory (runs live in runs/<name>/)");
  if (!fs::exists(run_db_path(run_dir), ec))
    return Status::Error("'" + run_dir + "' is not an adrs run (it has no run.db); start one with adrs run --config runs/demo.toml");
  return RunDb::Open(run_db_path(run_dir), RunDb::Mode::kReadOnly, db);
}

Status stored_config(const RunDb& db, RunConfig* config) {
  std::string text;
  bool found = false;
  if (Status s = db.read_state("config", &text, &found); !s.ok()) return s;
  if (!found || text.empty()) return Status::Error(db.path() + " holds no run config (the run was never started properly)");
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return Status::Error(db.path() + ": the stored run config is damaged");
  return config_from_json(j, config);
}

namespace {

// The pid holding a flock on the file with this inode, from /proc/locks ("1: FLOCK ADVISORY WRITE
// 1234 08:01:5678 0 EOF"). A fallback for the moment before the holder has written its pid.
std::string lock_holder_from_proc(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return "";
  std::ifstream locks("/proc/locks");
  std::string line;
  const std::string inode = ":" + std::to_string(st.st_ino);
  while (std::getline(locks, line)) {
    std::istringstream in(line);
    std::string number, kind, advisory, access, pid, device;
    if (!(in >> number >> kind)) continue;
    if (kind == "->") in >> kind;  // a waiter: "1: -> FLOCK ..."
    if (!(in >> advisory >> access >> pid >> device)) continue;
    if (kind == "FLOCK" && device.size() > inode.size() && device.compare(device.size() - inode.size(), inode.size(), inode) == 0)
      return pid;
  }
  return "";
}

}  // namespace

Status RunLock::Acquire(const std::string& run_dir, std::unique_ptr<RunLock>* out) {
  const std::string path = run_dir + "/lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int error = errno;
    return Status::Fault("cannot create " + path + ": " + std::strerror(error) +
                         (error == EROFS ? " (the storage is read-only: inspection works, resume needs writable storage)"
                          : error == ENOSPC ? " (the disk is full; free space, then try again)" : ""));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[64] = {0};
    const ssize_t got = ::pread(fd, holder, sizeof holder - 1, 0);
    std::string pid = got > 0 ? std::string(holder, static_cast<size_t>(got)) : "";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ' || pid.back() == '\0')) pid.pop_back();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) pid = lock_holder_from_proc(fd);
    ::close(fd);
    return Status::Busy("another adrs process (pid " + (pid.empty() ? std::string("unknown: see /proc/locks") : pid) +
                         ") is running " + run_dir + "; watch it with adrs status " + run_dir + ", or stop it first");
  }
  // One pwrite of a fixed-width record, no truncate first: a reader never sees an empty file
  // once the first holder has written (the pid is the message's hint; the flock is the lock).
  std::string me = std::to_string(::getpid());
  me.resize(31, ' ');
  me += '\n';
  if (::pwrite(fd, me.data(), me.size(), 0) < 0) {
    // A full disk: the lock itself holds; the message above then reads the holder from /proc/locks.
  }
  out->reset(new RunLock());
  (*out)->fd_ = fd;
  return Status::Ok();
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {
ProposerFactory& llm_factory() {
  static ProposerFactory factory;
  return factory;
}
}  // namespace

const std::atomic<bool>& install_run_interrupt_handler() {
  return install_interrupt_handler("\nadrs: stopping: abandoning work in flight (Ctrl-C again to quit at once)\n");
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
  if (config.proposer == "agent") return make_agent_proposer(config, &db, out);
  return Status::Error("unknown proposer '" + config.proposer + "'; choose offline, llm or agent");
}

std::string adrs_command_name() {
  std::error_code ec;
  const fs::path exe = fs::path(executable_dir()) / "adrs";
  const fs::path relative = fs::relative(exe, fs::current_path(ec), ec);
  if (!ec && !relative.empty() && relative.string().rfind("..", 0) != 0) return relative.string();
  return exe.string();
}

}  // namespace adrs

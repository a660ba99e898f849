#include "evaluator/eval_task.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

namespace adrs {

namespace {

bool finite_number(const nlohmann::json& j, const char* key) { return j.contains(key) && j[key].is_number() && std::isfinite(j[key].get<double>()); }

Status status_from_name(const std::string& name, EvalStatus* out) {
  for (int i = 0; i <= static_cast<int>(EvalStatus::kInternalError); ++i)
    if (name == status_name(static_cast<EvalStatus>(i))) {
      *out = static_cast<EvalStatus>(i);
      return Status::Ok();
    }
  return Status::Error("unknown status '" + name.substr(0, 40) + "'");
}

Status metrics_from_json(const nlohmann::json& j, Metrics* m) {
  for (const char* key : {"score", "error", "density", "penalty", "target_density", "attention_mass_kept", "weight_mass"})
    if (!finite_number(j, key)) return Status::Error(std::string("metric '") + key + "' is missing or not a finite number");
  if (!j.contains("rows") || !j["rows"].is_number_integer()) return Status::Error("metric 'rows' is missing");
  const nlohmann::json& row_error = j.value("row_error", nlohmann::json::object());
  for (const char* key : {"p50", "p90", "max"})
    if (!finite_number(row_error, key)) return Status::Error(std::string("row_error.") + key + " is missing or not finite");
  m->score = j["score"];
  m->error = j["error"];
  m->density = j["density"];
  m->penalty = j["penalty"];
  m->target_density = j["target_density"];
  m->rows = j["rows"];
  m->attention_mass_kept = j["attention_mass_kept"];
  m->weight_mass = j["weight_mass"];
  m->row_error_p50 = row_error["p50"];
  m->row_error_p90 = row_error["p90"];
  m->row_error_max = row_error["max"];
  const nlohmann::json& buckets = j.value("error_by_entropy", nlohmann::json::array());
  if (!buckets.is_array() || buckets.size() > 64) return Status::Error("error_by_entropy is not a short list");
  for (const nlohmann::json& b : buckets) {
    if (!b.is_object()) return Status::Error("error_by_entropy holds a non-object");
    for (const char* key : {"entropy_low", "entropy_high", "mean_error", "mean_density"})
      if (!finite_number(b, key)) return Status::Error(std::string("error_by_entropy.") + key + " is not finite");
    if (!b.contains("rows") || !b["rows"].is_number_integer()) return Status::Error("error_by_entropy.rows is missing");
    m->entropy_buckets.push_back({b["entropy_low"], b["entropy_high"], b["rows"], b["mean_error"], b["mean_density"]});
  }
  if (j.contains("access_density")) {
    if (!finite_number(j, "access_density")) return Status::Error("metric 'access_density' is not a finite number");
    m->access_density = j["access_density"].get<double>();
  }
  return Status::Ok();
}

// Per layer call errors and densities (metrics_to_json leaves them out; held-out intervals
// resample them): finite numbers, one of each per call.
Status per_call_from_json(const nlohmann::json& j, Metrics* m) {
  if (!j.contains("per_call")) return Status::Ok();
  const nlohmann::json& calls = j["per_call"];
  if (!calls.is_object()) return Status::Error("per_call is not an object");
  for (auto [key, out] : {std::pair{"errors", &m->call_errors}, std::pair{"densities", &m->call_densities}}) {
    const nlohmann::json& values = calls.value(key, nlohmann::json::array());
    if (!values.is_array() || values.size() > kMaxTaskCalls) return Status::Error(std::string("per_call.") + key + " is not a short list");
    for (const nlohmann::json& v : values) {
      if (!v.is_number() || !std::isfinite(v.get<double>())) return Status::Error(std::string("per_call.") + key + " holds a non-finite number");
      out->push_back(v.get<double>());
    }
  }
  if (m->call_errors.size() != m->call_densities.size()) return Status::Error("per_call errors and densities differ in length");
  return Status::Ok();
}

std::string bounded_text(const nlohmann::json& j, const char* key, size_t limit) {
  if (!j.contains(key) || !j[key].is_string()) return "";
  std::string text = j[key].get<std::string>();
  if (text.size() > limit) text.resize(limit);
  return text;
}

}  // namespace

nlohmann::json task_to_json(const EvalTask& t) {
  const EvalOptions& o = t.options;
  nlohmann::json j = {{"nonce", t.nonce},
                      {"workload", o.workload},
                      {"target_density", o.target_density},
                      {"seed", o.seed},
                      {"timeout_s", o.timeout_s},
                      {"compile_timeout_s", o.compile_timeout_s},
                      {"threads", o.threads},
                      {"memory_mb", o.memory_mb},
                      {"device", device_name(o.device)},
                      {"gpus", o.gpus},
                      {"track", o.track},
                      {"access_ratio", o.access_ratio},
                      {"probe_seed", o.probe_seed},
                      {"probe_rows", o.probe_rows},
                      {"source", t.source}};
  if (o.workload_seed) j["workload_seed"] = *o.workload_seed;
  if (o.value_secret) j["value_secret"] = *o.value_secret;
  return j;
}

Status task_from_json(const nlohmann::json& j, EvalTask* t) {
  try {
    t->nonce = j.at("nonce").get<std::string>();
    EvalOptions& o = t->options;
    o.workload = j.at("workload").get<std::string>();
    o.target_density = j.at("target_density").get<double>();
    o.seed = j.at("seed").get<uint64_t>();
    o.timeout_s = j.at("timeout_s").get<double>();
    o.compile_timeout_s = j.at("compile_timeout_s").get<double>();
    o.threads = j.at("threads").get<int>();
    o.memory_mb = j.at("memory_mb").get<long>();
    if (!parse_device(j.at("device").get<std::string>(), &o.device)) return Status::Error("the task names an unknown device");
    o.gpus = j.at("gpus").get<std::vector<int>>();
    o.track = j.at("track").get<std::string>();
    o.access_ratio = j.at("access_ratio").get<double>();
    o.probe_seed = j.at("probe_seed").get<uint64_t>();
    o.probe_rows = j.at("probe_rows").get<int>();
    if (j.contains("workload_seed")) o.workload_seed = j["workload_seed"].get<uint64_t>();
    if (j.contains("value_secret")) o.value_secret = j["value_secret"].get<uint64_t>();
    t->source = j.at("source").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return Status::Error(std::string("the task file is not a task of this adrs version: ") + e.what());
  }
  return Status::Ok();
}

nlohmann::json task_result_to_json(const std::string& nonce, const EvalResult& r) {
  nlohmann::json j = {{"task", nonce},          {"status", status_name(r.status)}, {"message", r.message},
                      {"compile_log", r.compile_log}, {"sandbox", r.sandbox},      {"device", r.device},
                      {"compile_cached", r.compile_cached}, {"compile_s", r.compile_s}, {"worker_s", r.worker_s},
                      {"metrics_s", r.metrics_s}, {"fingerprint", r.fingerprint}};
  if (r.ok()) {
    j["metrics"] = metrics_to_json(r.metrics);
    j["metrics"]["per_call"] = {{"errors", r.metrics.call_errors}, {"densities", r.metrics.call_densities}};
  }
  return j;
}

Status parse_task_result(const std::string& text, const std::string& nonce, EvalResult* out) {
  if (text.size() > kMaxTaskResultBytes) return Status::Error("the result file is larger than 1 MiB");
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return Status::Error("the result file is not a JSON object");
  if (!j.contains("task") || !j["task"].is_string() || j["task"].get<std::string>() != nonce)
    return Status::Error("the result file belongs to another task (its nonce differs)");
  if (!j.contains("status") || !j["status"].is_string()) return Status::Error("the result file has no status");
  EvalResult r;
  if (Status s = status_from_name(j["status"].get<std::string>(), &r.status); !s.ok()) return s;
  for (const char* key : {"compile_s", "worker_s", "metrics_s"})
    if (!finite_number(j, key) || j[key].get<double>() < 0) return Status::Error(std::string(key) + " is not a finite time");
  r.compile_s = j["compile_s"];
  r.worker_s = j["worker_s"];
  r.metrics_s = j["metrics_s"];
  r.compile_cached = j.value("compile_cached", false);
  r.message = bounded_text(j, "message", 16 << 10);
  r.compile_log = bounded_text(j, "compile_log", 256 << 10);
  r.sandbox = bounded_text(j, "sandbox", 1 << 10);
  r.device = bounded_text(j, "device", 64);
  r.fingerprint = bounded_text(j, "fingerprint", 128);
  if (r.ok()) {
    if (!j.contains("metrics") || !j["metrics"].is_object()) return Status::Error("an ok result has no metrics");
    if (Status s = metrics_from_json(j["metrics"], &r.metrics); !s.ok()) return s;
    if (Status s = per_call_from_json(j["metrics"], &r.metrics); !s.ok()) return s;
    if (r.fingerprint.empty()) return Status::Error("an ok result has no behavioral fingerprint");
  }
  *out = std::move(r);
  return Status::Ok();
}

Status read_task_file(const std::string& dir, const std::string& name, size_t max_bytes, std::string* text) {
  const std::string path = dir + "/" + name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return Status::Error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::Error(path + " is not a regular file");
  }
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return Status::Error(path + " is " + std::to_string(st.st_size) + " bytes, over the limit of " + std::to_string(max_bytes));
  }
  text->assign(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < text->size()) {
    const ssize_t n = ::read(fd, text->data() + done, text->size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  text->resize(done);
  return Status::Ok();
}

Status write_task_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string temp = dir + "/." + name + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::Error("cannot write " + temp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = done == text.size() && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), (dir + "/" + name).c_str()) != 0) {
    ::unlink(temp.c_str());
    return Status::Error("cannot write " + dir + "/" + name + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace adrs

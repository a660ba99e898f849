#include "driver/llm/llm_client.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "driver/llm/llm_protocol.h"

namespace adrs {
namespace {

// libcurl's sockets are made close-on-exec atomically (SOCK_CLOEXEC), so a compiler or worker
// started by another thread at that moment never inherits a connection to the LLM server
// (run_process also closes every descriptor it does not pass).
curl_socket_t open_close_on_exec_socket(void*, curlsocktype, curl_sockaddr* address) {
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Transfer {
  std::string body;
  size_t limit = 0;
  bool too_large = false;
  std::string retry_after;
  const std::atomic<bool>* cancel = nullptr;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->body.size() + size * count > t->limit) {
    t->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  t->body.append(data, size * count);
  return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string line(data, size * count);
  const std::string name = "retry-after:";
  if (line.size() > name.size()) {
    std::string lower = line.substr(0, name.size());
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == name) t->retry_after = line.substr(name.size());
  }
  return size * count;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Transfer*>(user)->cancel->load() ? 1 : 0;
}

// Replaces every occurrence of the key in server text: some servers echo the credential back.
void scrub(std::string* text, const std::string& key) {
  if (key.size() < 4) return;
  for (size_t p = text->find(key); p != std::string::npos; p = text->find(key, p)) text->replace(p, key.size(), "[redacted]");
}

// Sleeps up to `seconds`, waking early when cancelled. Returns false when cancelled.
bool wait(double seconds, const std::atomic<bool>& cancel) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    if (cancel.load()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::duration<double>>(until - Clock::now(), std::chrono::milliseconds(20)));
  }
  return !cancel.load();
}

// The API key from the model's environment variable ("" for a server without keys); false (and
// a message naming the fix) when the variable is named but unset.
bool read_api_key(const LlmModelConfig& model, std::string* key, std::string* message) {
  if (model.api_key_env.empty()) return true;
  const char* value = std::getenv(model.api_key_env.c_str());
  if (value == nullptr || *value == '\0') {
    *message = "the environment variable " + model.api_key_env + " (api_key_env of model '" + model.name +
               "') is not set: export the API key in it, or set api_key_env = \"\" for a server without keys";
    return false;
  }
  *key = value;
  return true;
}

// The request's headers; the key (if any) goes in the provider's header.
curl_slist* request_headers(const LlmModelConfig& model, const std::string& key) {
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  if (model.provider == LlmProvider::kAnthropic) {
    headers = curl_slist_append(headers, "anthropic-version: 2023-06-01");
    if (!key.empty()) headers = curl_slist_append(headers, ("x-api-key: " + key).c_str());
  } else if (!key.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + key).c_str());
  }
  return headers;
}

// What one HTTP POST gave: curl's code, the HTTP status and how long it took.
struct HttpOutcome {
  CURLcode code = CURLE_OK;
  long http = 0;
  double latency_s = 0;
};

// POSTs `body` to `url` with the model's timeouts; the answer lands in `transfer`.
HttpOutcome post(const LlmModelConfig& model, const std::string& url, const std::string& body, const std::string& key,
                 Transfer* transfer) {
  CURL* curl = curl_easy_init();
  curl_slist* headers = request_headers(model, key);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_close_on_exec_socket);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(model.timeout_s * 1000));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min(model.timeout_s, 30.0) * 1000));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, transfer);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, transfer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // whatever the server compresses with
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");

  HttpOutcome outcome;
  const auto start = Clock::now();
  outcome.code = curl_easy_perform(curl);
  outcome.latency_s = seconds_since(start);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &outcome.http);
  curl_slist_free_all(headers);  // frees the only copy of the header holding the key
  curl_easy_cleanup(curl);
  return outcome;
}

// Parses a 2xx answer into the attempt's record and the response; scrubs the key from its text.
void take_answer(const LlmModelConfig& model, const std::string& body, const std::string& key, LlmAttempt* attempt,
                 LlmResponse* response) {
  LlmResponse parsed;
  std::string message;
  attempt->status = llm_protocol::parse_answer(model, body, &parsed, &message);
  scrub(&parsed.content, key);
  scrub(&parsed.reasoning, key);
  attempt->tokens_in = parsed.tokens_in;
  attempt->tokens_out = parsed.tokens_out;
  attempt->response = attempt->status == LlmStatus::kBadResponse ? body.substr(0, 2000) : parsed.content;
  for (LlmToolCall& call : parsed.tool_calls) {
    scrub(&call.arguments, key);
    attempt->response += "\n[tool call " + call.name + "] " + call.arguments.substr(0, 4000);
  }
  response->content = parsed.content;
  response->tool_calls = std::move(parsed.tool_calls);
  response->assistant_message = std::move(parsed.assistant_message);
  response->reasoning = parsed.reasoning;
  response->finish_reason = parsed.finish_reason;
  response->truncated = parsed.truncated;
  response->message = message;
}

std::once_flag curl_init_once;

}  // namespace

const char* llm_status_name(LlmStatus status) {
  switch (status) {
    case LlmStatus::kOk: return "ok";
    case LlmStatus::kTimeout: return "timeout";
    case LlmStatus::kConnection: return "connection_error";
    case LlmStatus::kRateLimited: return "rate_limited";
    case LlmStatus::kServerError: return "server_error";
    case LlmStatus::kClientError: return "client_error";
    case LlmStatus::kBadResponse: return "bad_response";
    case LlmStatus::kTooLarge: return "too_large";
    case LlmStatus::kEmpty: return "empty_answer";
    case LlmStatus::kRefused: return "refused";
    case LlmStatus::kMissingKey: return "missing_key";
    case LlmStatus::kCancelled: return "cancelled";
  }
  return "unknown";
}

bool llm_status_retryable(LlmStatus status) {
  return status == LlmStatus::kTimeout || status == LlmStatus::kConnection || status == LlmStatus::kRateLimited ||
         status == LlmStatus::kServerError || status == LlmStatus::kBadResponse;
}

LlmClient::LlmClient(RetryPolicy policy) : policy_(policy) {
  std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

LlmAttempt LlmClient::attempt_once(const LlmModelConfig& model, const LlmRequest& request, const std::atomic<bool>& cancel,
                                   LlmResponse* response, double* retry_after_s) const {
  LlmAttempt attempt;
  *retry_after_s = -1;
  std::string key;
  if (!read_api_key(model, &key, &response->message)) {
    attempt.status = LlmStatus::kMissingKey;
    return attempt;
  }
  const std::string url = endpoint_url(model);
  Transfer transfer;
  transfer.limit = policy_.max_body_bytes;
  transfer.cancel = &cancel;
  const HttpOutcome outcome = post(model, url, build_request_body(model, request), key, &transfer);
  attempt.latency_s = outcome.latency_s;
  attempt.http_status = static_cast<int>(outcome.http);
  scrub(&transfer.body, key);

  if (outcome.code == CURLE_ABORTED_BY_CALLBACK || cancel.load()) {
    attempt.status = LlmStatus::kCancelled;
    response->message = "cancelled";
  } else if (transfer.too_large) {
    attempt.status = LlmStatus::kTooLarge;
    response->message = "the answer from " + url + " passed " + std::to_string(policy_.max_body_bytes >> 20) + " MiB; not read";
  } else if (outcome.code == CURLE_OPERATION_TIMEDOUT) {
    attempt.status = LlmStatus::kTimeout;
    response->message = "no complete answer from " + url + " within timeout = " + std::to_string(model.timeout_s) + " s";
  } else if (outcome.code != CURLE_OK) {
    attempt.status = LlmStatus::kConnection;
    response->message = std::string(curl_easy_strerror(outcome.code)) + " (" + url + "): check base_url and that the server runs";
  } else if (outcome.http < 200 || outcome.http >= 300) {
    const long http = outcome.http;
    attempt.status = http == 429 ? LlmStatus::kRateLimited : http >= 500 ? LlmStatus::kServerError : LlmStatus::kClientError;
    attempt.response = transfer.body.substr(0, 2000);
    response->message = llm_protocol::http_error_message(model, attempt.http_status, transfer.body);
    *retry_after_s = llm_protocol::parse_retry_after(transfer.retry_after);
  } else {
    take_answer(model, transfer.body, key, &attempt, response);
  }
  return attempt;
}

LlmResponse LlmClient::complete(const LlmModelConfig& model, const LlmRequest& request, const std::atomic<bool>& cancel) const {
  LlmResponse response;
  const auto start = Clock::now();
  std::mt19937_64 rng(std::random_device{}());
  for (int attempt_index = 0;; ++attempt_index) {
    double retry_after = -1;
    response.message.clear();
    LlmAttempt attempt = attempt_once(model, request, cancel, &response, &retry_after);
    response.status = attempt.status;
    response.tokens_in += attempt.tokens_in;
    response.tokens_out += attempt.tokens_out;
    response.attempts.push_back(std::move(attempt));
    if (!llm_status_retryable(response.status) || attempt_index + 1 >= policy_.max_attempts) break;
    // Full jitter over the upper half: spreads the retries of parallel threads apart.
    const double backoff = std::min(policy_.max_s, policy_.base_s * std::pow(2.0, attempt_index));
    double delay = backoff * std::uniform_real_distribution<double>(0.5, 1.0)(rng);
    if (retry_after >= 0) {
      if (retry_after > policy_.max_retry_after_s) {
        response.message += "; Retry-After " + std::to_string(static_cast<int>(retry_after)) + " s is past the limit, giving up";
        break;
      }
      delay = std::max(delay, retry_after);
    }
    if (!wait(delay, cancel)) {
      response.status = LlmStatus::kCancelled;
      response.message = "cancelled";
      break;
    }
  }
  response.latency_s = seconds_since(start);
  if (response.ok()) response.message.clear();
  else if (response.attempts.size() > 1)
    response.message += " (after " + std::to_string(response.attempts.size()) + " attempts)";
  return response;
}

}  // namespace adrs

// FakeLlmServer: a scriptable OpenAI Chat Completions + Anthropic Messages server on 127.0.0.1
// (an ephemeral port), for tests. It never listens on another address and serves until destroyed.
//
// Each request takes the next scripted FakeReply (or, when the script is empty, the default
// handler's). The path chooses the protocol: .../chat/completions answers in OpenAI's shape,
// .../messages in Anthropic's. Faults: any HTTP status with any body and headers (429 +
// Retry-After, 500, 401 with an HTML body), a delay (past the client's timeout), a dropped
// connection (before answering or mid-body), a body cut short, a huge body.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace adrs::test {

// A tool call the fake model makes. `arguments` is the JSON text (OpenAI sends it as a string, so
// broken JSON goes out as is; Anthropic gets the parsed object as `input`, or the raw string when
// it does not parse).
struct FakeToolCall {
  std::string id, name, arguments;
};

struct FakeReply {
  int status = 200;
  std::string content;                 // the assistant's answer (status 200, no raw body)
  std::string reasoning;               // reasoning_content (OpenAI) or a thinking block (Anthropic)
  std::string refusal;                 // OpenAI refusal text / Anthropic stop_reason refusal
  bool truncated = false;              // finish_reason length / stop_reason max_tokens
  int tokens_in = 3000, tokens_out = 800;
  std::string raw_body;                // sent verbatim instead of a protocol answer ("" : build one)
  std::vector<std::pair<std::string, std::string>> headers;
  double delay_s = 0.0;                // wait before answering
  bool drop_before_answer = false;     // close the connection without a byte
  long drop_after_bytes = -1;          // send this many body bytes (of a full Content-Length), close
  long cut_body_at = -1;               // send only this many bytes, Content-Length matching: bad JSON
  size_t pad_bytes = 0;                // huge body: pad the content with this many spaces
  std::vector<FakeToolCall> tool_calls;  // finish_reason tool_calls / stop_reason tool_use

  static FakeReply answer(std::string text) {
    FakeReply r;
    r.content = std::move(text);
    return r;
  }
  static FakeReply tools(std::vector<FakeToolCall> calls, std::string text = "") {
    FakeReply r;
    r.content = std::move(text);
    r.tool_calls = std::move(calls);
    return r;
  }
  static FakeReply error(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
    FakeReply r;
    r.status = status;
    r.raw_body = std::move(body);
    r.headers = std::move(headers);
    return r;
  }
};

struct RecordedRequest {
  std::string method, path, headers, body;  // headers: the raw header block
  double time_s = 0;                        // since the server started
};

class FakeLlmServer {
 public:
  using Handler = std::function<FakeReply(const RecordedRequest&, int index)>;
  explicit FakeLlmServer(int port = 0);  // 0: an ephemeral port
  ~FakeLlmServer();
  FakeLlmServer(const FakeLlmServer&) = delete;
  FakeLlmServer& operator=(const FakeLlmServer&) = delete;

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

  void push(FakeReply reply);
  void set_default(Handler handler);
  std::vector<RecordedRequest> requests() const;
  int request_count() const;
  // adrs's pre-flight probe gets this reply ("OK" unless set) and is not among requests().
  void set_preflight_reply(FakeReply reply);
  int preflight_count() const;

 private:
  void accept_loop();
  void serve(int fd);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::deque<FakeReply> script_;
  Handler default_;
  FakeReply preflight_reply_ = FakeReply::answer("OK");
  int preflight_count_ = 0;
  std::vector<RecordedRequest> requests_;
  std::vector<std::thread> workers_;
  double start_ = 0;
};

}  // namespace adrs::test

#include "tests/fake_llm_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace adrs::test {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool send_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Reads one request (headers, then Content-Length bytes of body). False on a closed socket.
bool read_request(int fd, RecordedRequest* request) {
  std::string data;
  char buffer[65536];
  size_t header_end = std::string::npos;
  size_t want = 0;
  for (;;) {
    if (header_end == std::string::npos) {
      header_end = data.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        request->headers = data.substr(0, header_end);
        std::string lower = request->headers;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const size_t cl = lower.find("content-length:");
        want = header_end + 4 + (cl == std::string::npos ? 0 : std::strtoul(lower.c_str() + cl + 15, nullptr, 10));
      }
    }
    if (header_end != std::string::npos && data.size() >= want) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return false;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    data.append(buffer, static_cast<size_t>(n));
  }
  const size_t sp1 = request->headers.find(' '), sp2 = request->headers.find(' ', sp1 + 1);
  request->method = request->headers.substr(0, sp1);
  request->path = request->headers.substr(sp1 + 1, sp2 - sp1 - 1);
  request->body = data.substr(header_end + 4, want - header_end - 4);
  return true;
}

std::string protocol_body(const RecordedRequest& request, const FakeReply& reply) {
  const std::string content = reply.content + std::string(reply.pad_bytes, ' ');
  const nlohmann::json in = nlohmann::json::parse(request.body, nullptr, false);
  const std::string model = in.is_object() && in.contains("model") && in["model"].is_string() ? in["model"].get<std::string>() : "fake";
  if (request.path.find("/messages") != std::string::npos) {
    nlohmann::json blocks = nlohmann::json::array();
    if (!reply.reasoning.empty()) blocks.push_back({{"type", "thinking"}, {"thinking", reply.reasoning}, {"signature", "x"}});
    if (!content.empty()) blocks.push_back({{"type", "text"}, {"text", content}});
    for (const FakeToolCall& call : reply.tool_calls) {
      const nlohmann::json input = nlohmann::json::parse(call.arguments, nullptr, false);
      blocks.push_back({{"type", "tool_use"}, {"id", call.id}, {"name", call.name},
                        {"input", input.is_discarded() ? nlohmann::json(call.arguments) : input}});
    }
    const char* stop = !reply.refusal.empty() ? "refusal" : reply.truncated ? "max_tokens" : !reply.tool_calls.empty() ? "tool_use" : "end_turn";
    return nlohmann::json{{"id", "msg_fake"}, {"type", "message"}, {"role", "assistant"}, {"model", model},
                          {"content", blocks},
                          {"stop_reason", stop},
                          {"usage", {{"input_tokens", reply.tokens_in}, {"output_tokens", reply.tokens_out}}}}
        .dump();
  }
  nlohmann::json message = {{"role", "assistant"}, {"content", content.empty() ? nlohmann::json(nullptr) : nlohmann::json(content)}};
  if (!reply.reasoning.empty()) message["reasoning_content"] = reply.reasoning;
  if (!reply.refusal.empty()) message["refusal"] = reply.refusal;
  for (const FakeToolCall& call : reply.tool_calls)
    message["tool_calls"].push_back({{"id", call.id}, {"type", "function"}, {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
  const char* finish = reply.truncated ? "length" : !reply.tool_calls.empty() ? "tool_calls" : "stop";
  return nlohmann::json{{"id", "chatcmpl-fake"}, {"object", "chat.completion"}, {"model", model},
                        {"choices", {{{"index", 0}, {"message", message}, {"finish_reason", finish}}}},
                        {"usage", {{"prompt_tokens", reply.tokens_in}, {"completion_tokens", reply.tokens_out},
                                   {"total_tokens", reply.tokens_in + reply.tokens_out}}}}
      .dump();
}

}  // namespace

FakeLlmServer::FakeLlmServer(int port) {
  start_ = now_s();
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 64) != 0)
    throw std::runtime_error("fake LLM server: cannot listen on 127.0.0.1:" + std::to_string(port));
  socklen_t length = sizeof address;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  default_ = [](const RecordedRequest&, int) { return FakeReply::error(500, R"({"error":{"message":"fake server: script empty"}})"); };
  acceptor_ = std::thread([this] { accept_loop(); });
}

FakeLlmServer::~FakeLlmServer() {
  stop_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    workers.swap(workers_);
  }
  for (auto& w : workers) w.join();
}

void FakeLlmServer::push(FakeReply reply) {
  std::lock_guard<std::mutex> lock(mutex_);
  script_.push_back(std::move(reply));
}

void FakeLlmServer::set_default(Handler handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  default_ = std::move(handler);
}

std::vector<RecordedRequest> FakeLlmServer::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

void FakeLlmServer::set_preflight_reply(FakeReply reply) {
  std::lock_guard<std::mutex> lock(mutex_);
  preflight_reply_ = std::move(reply);
}

int FakeLlmServer::preflight_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return preflight_count_;
}

int FakeLlmServer::request_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(requests_.size());
}

void FakeLlmServer::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mutex_);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void FakeLlmServer::serve(int fd) {
  RecordedRequest request;
  if (!read_request(fd, &request)) {
    ::close(fd);
    return;
  }
  request.time_s = now_s() - start_;
  FakeReply reply;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // adrs's pre-flight probe (driver/llm/llm_preflight.h) neither takes a scripted reply nor
    // counts as a request, so tests script the run's own requests.
    const bool preflight = request.body.find("adrs pre-flight check") != std::string::npos;
    if (preflight) ++preflight_count_;
    if (!preflight) requests_.push_back(request);
    const int index = static_cast<int>(requests_.size()) - 1;
    if (preflight) {
      reply = preflight_reply_;
    } else if (!script_.empty()) {
      reply = std::move(script_.front());
      script_.pop_front();
    } else {
      Handler handler = default_;
      lock.unlock();
      reply = handler(request, index);
    }
  }
  for (double waited = 0; waited < reply.delay_s && !stop_; waited += 0.01)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (reply.drop_before_answer || stop_) {
    ::close(fd);
    return;
  }
  std::string body = reply.raw_body.empty() ? protocol_body(request, reply) : reply.raw_body;
  size_t claimed = body.size();
  if (reply.cut_body_at >= 0) body.resize(std::min(body.size(), static_cast<size_t>(reply.cut_body_at))), claimed = body.size();
  if (reply.drop_after_bytes >= 0) body.resize(std::min(body.size(), static_cast<size_t>(reply.drop_after_bytes)));
  std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " Fake\r\nContent-Type: " +
                     (reply.raw_body.rfind("<", 0) == 0 ? "text/html" : "application/json") +
                     "\r\nContent-Length: " + std::to_string(claimed) + "\r\nConnection: close\r\n";
  for (const auto& [name, value] : reply.headers) head += name + ": " + value + "\r\n";
  head += "\r\n";
  if (send_all(fd, head.data(), head.size())) send_all(fd, body.data(), body.size());
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

}  // namespace adrs::test

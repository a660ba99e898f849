// adrs-fake-agent: the scripted loopback agent (tests/fake_agent.h) as a server, for the demo
// config runs/agent_demo.toml and the agent benchmark. Listens on 127.0.0.1 only.
//   adrs-fake-agent [--port N] [--port-file FILE] [--compile-error-rate R] [--variants K]
// Prints the base_url to use (http://127.0.0.1:PORT/v1) and serves until killed.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "tests/fake_agent.h"

int main(int argc, char** argv) {
  adrs::test::ScriptedAgentOptions options;
  std::string port_file;
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--port")) port = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--port-file")) port_file = argv[i + 1];
    else if (!std::strcmp(argv[i], "--compile-error-rate")) options.compile_error_rate = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--variants")) options.variants = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: adrs-fake-agent [--port N] [--port-file FILE] [--compile-error-rate R] [--variants K]\n");
      return 2;
    }
  }
  adrs::test::FakeLlmServer server(port);
  server.set_default([options](const adrs::test::RecordedRequest& r, int index) { return adrs::test::scripted_agent_reply(r, index, options); });
  std::printf("%s\n", server.base_url().c_str());
  std::fflush(stdout);
  if (!port_file.empty()) std::ofstream(port_file) << server.port() << "\n";
  for (;;) ::pause();
}

// adrs-bench: measures the CUDA evaluator against the device's copy bandwidth and, with
// bench/torch_reference.py, against an eager PyTorch evaluation of the same data.
//   adrs-bench [--sizes 2048,4096,...] [--head-dims 64,128,256] [--skip-kernels] [--skip-large] [--layers N]
//              [--dump DIR] [--json FILE] [--e2e PRESET --masker FILE[,FILE...]]
// See docs/PERFORMANCE.md for the commands the recorded numbers came from.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "bench/bench_kernels.h"
#include "bench/bench_util.h"
#include "kernels/attention.h"

namespace {

using namespace adrs::bench;

struct BenchArgs {
  std::vector<int> sizes{2048, 4096, 8192, 16384, 32768}, head_dims{128};
  bool kernels = true, large = true;
  LargeOptions large_options;
  std::string json_path, e2e_preset, maskers = "masker_template/evolve_masker.cpp,masker_template/baselines/oracle_topk.cpp";
};

// Reads the flags; false (after printing why) on an unknown one.
bool parse_args(int argc, char** argv, BenchArgs* a) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "adrs-bench: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--sizes" || arg == "--head-dims") {
      std::vector<int>& list = arg == "--sizes" ? a->sizes : a->head_dims;
      list.clear();
      std::stringstream text(value());
      for (std::string item; std::getline(text, item, ',');) list.push_back(std::atoi(item.c_str()));
    } else if (arg == "--skip-kernels") {
      a->kernels = false;
    } else if (arg == "--skip-large") {
      a->large = false;
    } else if (arg == "--layers") {
      a->large_options.layers = std::atoi(value().c_str());
    } else if (arg == "--dump") {
      a->large_options.dump_dir = value();
    } else if (arg == "--e2e") {
      a->e2e_preset = value();
    } else if (arg == "--masker") {
      a->maskers = value();
    } else if (arg == "--json") {
      a->json_path = value();
    } else {
      std::fprintf(stderr, "adrs-bench: unknown option '%s' (see the comment at the top of bench/bench_main.cc)\n", arg.c_str());
      return false;
    }
  }
  return true;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  for (size_t at = 0; at <= text.size();) {
    const size_t comma = std::min(text.find(',', at), text.size());
    if (comma > at) parts.push_back(text.substr(at, comma - at));
    at = comma + 1;
  }
  return parts;
}

}  // namespace

int main(int argc, char** argv) {
  BenchArgs args;
  if (!parse_args(argc, argv, &args)) return 2;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // line by line, so a killed run still shows its progress
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::fprintf(stderr, "adrs-bench: no CUDA device\n");
    return 1;
  }
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "device properties");
  std::printf("device: %s, %d SMs, %.1f GiB, L2 %d MiB\n", prop.name, prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0,
              prop.l2CacheSize >> 20);
  nlohmann::json report;
  report["device"] = prop.name;
  const double copy_bw = copy_bandwidth(&report);
  for (int d : args.head_dims)
    if (!adrs::cuda::supported_head_dim(d)) {
      std::fprintf(stderr, "adrs-bench: --head-dims %d: the kernels are built for %s\n", d, adrs::cuda::supported_head_dims_text());
      return 2;
    }
  if (args.kernels) kernel_sweep(args.sizes, args.head_dims, copy_bw, prop.multiProcessorCount, &report);
  if (args.large) large_candidates(args.large_options, &report);
  if (!args.json_path.empty()) std::ofstream(args.json_path) << report.dump(1) << "\n";
  if (!args.e2e_preset.empty()) end_to_end(args.e2e_preset, split_commas(args.maskers), &report);
  if (!args.json_path.empty()) std::ofstream(args.json_path) << report.dump(1) << "\n";
  return 0;
}

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
#include <vector>

#include "bench/bench_kernels.h"
#include "bench/bench_util.h"
#include "kernels/attention.h"

namespace {

using namespace adrs::bench;

struct BenchOptions {
  std::vector<int> sizes{2048, 4096, 8192, 16384, 32768}, head_dims{128};
  bool kernels = true, large = true;
  LargeOptions large_options;
  std::string json_path, e2e_preset, maskers = "masker_template/evolve_masker.cpp,masker_template/baselines/oracle_topk.cpp";
};

// Reads the flags into *options; false (after naming it) on an unknown option. A flag without its
// value ends the program with exit code 2.
bool parse_options(int argc, char** argv, BenchOptions* options) {
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
      std::vector<int>& list = arg == "--sizes" ? options->sizes : options->head_dims;
      list.clear();
      std::stringstream text(value());
      for (std::string item; std::getline(text, item, ',');) list.push_back(std::atoi(item.c_str()));
    } else if (arg == "--skip-kernels") {
      options->kernels = false;
    } else if (arg == "--skip-large") {
      options->large = false;
    } else if (arg == "--layers") {
      options->large_options.layers = std::atoi(value().c_str());
    } else if (arg == "--dump") {
      options->large_options.dump_dir = value();
    } else if (arg == "--e2e") {
      options->e2e_preset = value();
    } else if (arg == "--masker") {
      options->maskers = value();
    } else if (arg == "--json") {
      options->json_path = value();
    } else {
      std::fprintf(stderr, "adrs-bench: unknown option '%s' (see the comment at the top of bench/bench_main.cc)\n", arg.c_str());
      return false;
    }
  }
  return true;
}

// The non-empty items of a comma-separated list.
std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> items;
  for (size_t at = 0; at <= list.size();) {
    const size_t comma = std::min(list.find(',', at), list.size());
    if (comma > at) items.push_back(list.substr(at, comma - at));
    at = comma + 1;
  }
  return items;
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions options;
  if (!parse_options(argc, argv, &options)) return 2;
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
  for (int d : options.head_dims)
    if (!adrs::cuda::supported_head_dim(d)) {
      std::fprintf(stderr, "adrs-bench: --head-dims %d: the kernels are built for %s\n", d, adrs::cuda::supported_head_dims_text());
      return 2;
    }
  if (options.kernels) kernel_sweep(options.sizes, options.head_dims, copy_bw, prop.multiProcessorCount, &report);
  if (options.large) large_candidates(options.large_options, &report);
  if (!options.json_path.empty()) std::ofstream(options.json_path) << report.dump(1) << "\n";
  if (!options.e2e_preset.empty()) end_to_end(options.e2e_preset, split_commas(options.maskers), &report);
  if (!options.json_path.empty()) std::ofstream(options.json_path) << report.dump(1) << "\n";
  return 0;
}

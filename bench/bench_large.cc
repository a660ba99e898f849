// Per-candidate evaluation on a `large`-shaped workload through the CUDA backend: the starter
// (sink + window), oracle top-k and uniform sampling (non-unit weights) candidates. Optionally
// dumps the workload and the selections so bench/torch_reference.py scores the same data.
#include "bench/bench_kernels.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>

#include <cuda_bf16.h>

#include "bench/bench_util.h"
#include "kernels/cuda_backend.h"
#include "evaluator/metrics.h"
#include "evaluator/synthetic.h"
#include "util/hash.h"
#include "util/parallel.h"

namespace adrs::bench {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The `large` preset (or its shape with other sizes), generated on the device.
Workload large_workload(int layers, int steps, int capacity) {
  SyntheticPreset p = *find_synthetic_preset("large");
  p.layer_context.assign(layers, capacity);
  p.steps = steps;
  Workload w;
  if (Status s = make_synthetic_workload_on_device(p, &w); !s.ok()) {
    std::fprintf(stderr, "adrs-bench: %s\n", s.message().c_str());
    std::exit(1);
  }
  return w;
}

Selections starter(const Workload& w) {
  Selections s;
  for (int64_t r = 0; r < w.num_rows(); ++r) {
    const int n = w.num_keys(r);
    const int k = std::max(1, static_cast<int>(0.045 * n));
    std::vector<int32_t> idx;
    for (int i = 0; i < std::min(k, n); ++i) idx.push_back(i);
    for (int i = std::max(k, n - k); i < n; ++i) idx.push_back(i);
    const std::vector<double> wt(idx.size(), 1.0);
    s.append_row(idx.data(), wt.data(), int64_t(idx.size()));
  }
  return s;
}

// Oracle top-k: the 10% largest scores of each row, sorted by index.
Selections oracle_top_k(const Workload& w, const Reference& ref, double density) {
  const int64_t rows = w.num_rows();
  std::vector<std::vector<int32_t>> picked(rows);
  parallel_for(rows, 0, [&](int64_t r) {
    const int n = w.num_keys(r);
    const float* s = &ref.scores[ref.score_offsets[r]];
    const int k = std::max(1, static_cast<int>(density * n));
    std::vector<int32_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), [&](int32_t a, int32_t b) { return s[a] > s[b]; });
    idx.resize(k);
    std::sort(idx.begin(), idx.end());
    picked[r] = std::move(idx);
  });
  Selections sel;
  for (int64_t r = 0; r < rows; ++r) {
    const std::vector<double> wt(picked[r].size(), 1.0);
    sel.append_row(picked[r].data(), wt.data(), int64_t(picked[r].size()));
  }
  return sel;
}

// Uniform sampling with replacement, b = 10% of n draws of weight n / b, canonicalized.
Selections uniform_sampling(const Workload& w, double density) {
  Selections s;
  for (int64_t r = 0; r < w.num_rows(); ++r) {
    const int n = w.num_keys(r);
    const int b = std::max(1, static_cast<int>(density * n));
    std::vector<int32_t> idx(b);
    for (int t = 0; t < b; ++t) idx[t] = static_cast<int32_t>(mix64(uint64_t(r) * 7919 + t) % n);
    const std::vector<double> wt(b, double(n) / b);
    s.append_row(idx.data(), wt.data(), b);
  }
  return canonicalize(s);
}

template <typename T>
void write_raw(const std::string& path, const T* data, size_t count) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data), std::streamsize(count * sizeof(T)));
  if (!out) {
    std::fprintf(stderr, "adrs-bench: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

void write_bf16(const std::string& path, const float* data, size_t count) {
  std::vector<uint16_t> raw(count);
  parallel_for(int64_t(count + (1 << 20) - 1) >> 20, 0, [&](int64_t c) {
    for (size_t i = size_t(c) << 20; i < std::min(count, size_t(c + 1) << 20); ++i) {
      const __nv_bfloat16 b = __float2bfloat16(data[i]);
      std::memcpy(&raw[i], &b, 2);
    }
  });
  write_raw(path, raw.data(), raw.size());
}

// Per call: ||O_true - O_sparse||_F / ||O_true||_F over its heads (the metric before the mean).
std::vector<double> call_errors(const Workload& w, const Reference& ref, const RowErrors& e) {
  std::vector<double> out;
  for (size_t c = 0; c < w.calls.size(); ++c) {
    double num = 0, den = 0;
    for (int h = 0; h < w.num_q_heads; ++h) {
      num += e.error_sq[c * w.num_q_heads + h];
      den += ref.output_norm_sq[c * w.num_q_heads + h];
    }
    out.push_back(std::sqrt(num / den));
  }
  return out;
}

// The CUDA backend over `w`, timed; prints and records its setup beside the generation time.
std::unique_ptr<Backend> timed_cuda_backend(const Workload& w, const LargeOptions& opt, double gen_s, nlohmann::json* out) {
  const auto t = std::chrono::steady_clock::now();
  std::unique_ptr<Backend> backend;
  if (Status s = make_cuda_backend(w, CudaBackendOptions{}, &backend); !s.ok()) {
    std::fprintf(stderr, "adrs-bench: %s\n", s.message().c_str());
    std::exit(1);
  }
  const double setup_s = seconds_since(t);
  const CudaTimings setup = cuda_backend_timings(*backend);
  std::printf("backend setup (upload %s K/V, reference pass, scores down): %.2f s; reference pass on the GPU %.1f ms\n",
              setup.storage.c_str(), setup_s, setup.reference_gpu_s * 1e3);
  (*out)["large"] = {{"layers", opt.layers}, {"steps", opt.steps}, {"keys", opt.capacity}, {"rows", w.num_rows()},
                     {"storage", setup.storage}, {"device_generation_s", gen_s}, {"backend_setup_s", setup_s},
                     {"reference_gpu_s", setup.reference_gpu_s}};
  return backend;
}

struct Candidate {
  std::string name;
  Selections sel;
};

// Seconds per sparse_errors() call of one candidate: GPU, packing and the whole call.
struct CallTimes {
  std::vector<double> gpu, pack, call;
};

// Five timed sparse_errors() calls after a warm-up (buffers grow on the first call).
CallTimes time_sparse_errors(Backend& backend, const Selections& canonical, RowErrors* errors) {
  CallTimes times;
  for (int rep = 0; rep < 6; ++rep) {
    const auto t = std::chrono::steady_clock::now();
    if (Status s = backend.sparse_errors(canonical, errors); !s.ok()) {
      std::fprintf(stderr, "adrs-bench: %s\n", s.message().c_str());
      std::exit(1);
    }
    const double wall = seconds_since(t);
    if (rep == 0) continue;  // warm-up: buffers grow on the first call
    times.call.push_back(wall);
    times.gpu.push_back(cuda_backend_timings(backend).gpu_s);
    times.pack.push_back(cuda_backend_timings(backend).pack_s);
  }
  return times;
}

// One candidate: canonicalized, timed, scored, printed and recorded; its selections dumped when
// asked (with their per-call errors in `dump_meta`).
void bench_candidate(const LargeOptions& opt, const Workload& w, Backend& backend, const Candidate& c, nlohmann::json* out,
                     nlohmann::json* dump_meta) {
  const Reference& ref = backend.reference();
  const auto t = std::chrono::steady_clock::now();
  Selections sorted;  // as the evaluator does: sort only when the rows need it
  const Selections& canonical = canonical_form(c.sel, &sorted);
  const double canon_s = seconds_since(t);
  RowErrors errors;
  const CallTimes times = time_sparse_errors(backend, canonical, &errors);
  const std::vector<double>&gpu = times.gpu, &pack = times.pack, &call = times.call;
  const Metrics m = compute_metrics(w, ref, canonical, errors, 0.10);
  std::printf("%-18s %9.4f %10.6f %10.3f %11.3f %12.3f %10.1f\n", c.name.c_str(), m.density, m.error, median(gpu) * 1e3,
              median(pack) * 1e3, median(call) * 1e3, canon_s * 1e3);
  (*out)["large"]["candidates"].push_back({{"name", c.name}, {"density", m.density}, {"error", m.error},
                                           {"entries", canonical.offsets.back()}, {"gpu_s", median(gpu)},
                                           {"pack_s", median(pack)}, {"sparse_errors_call_s", median(call)},
                                           {"canonicalize_s", canon_s}});
  if (!opt.dump_dir.empty()) {
    const std::string base = opt.dump_dir + "/" + c.name;
    write_raw(base + ".offsets.i64", canonical.offsets.data(), canonical.offsets.size());
    write_raw(base + ".indices.i32", canonical.indices.data(), canonical.indices.size());
    const std::vector<float> wt(canonical.weights.begin(), canonical.weights.end());
    write_raw(base + ".weights.f32", wt.data(), wt.size());
    (*dump_meta)["candidates"].push_back({{"name", c.name}, {"error", m.error}, {"call_errors", call_errors(w, ref, errors)},
                                          {"gpu_s", median(gpu)}, {"sparse_errors_call_s", median(call)}});
  }
}

// The workload (bf16 K/V, f32 queries) and meta.json for bench/torch_reference.py.
void dump_workload(const LargeOptions& opt, const Workload& w, nlohmann::json dump_meta) {
  const auto t = std::chrono::steady_clock::now();
  write_bf16(opt.dump_dir + "/keys.bf16", w.keys_data(), size_t(w.kv_floats()));
  write_bf16(opt.dump_dir + "/values.bf16", w.values_data(), size_t(w.kv_floats()));
  write_raw(opt.dump_dir + "/queries.f32", w.queries_data(), size_t(w.query_floats()));
  dump_meta["layers"] = opt.layers;
  dump_meta["capacity"] = opt.capacity;
  dump_meta["q_heads"] = w.num_q_heads;
  dump_meta["kv_heads"] = w.num_kv_heads;
  dump_meta["scale"] = w.scale;
  for (const CallInfo& call : w.calls) dump_meta["calls"].push_back({call.layer, call.num_keys});
  std::ofstream(opt.dump_dir + "/meta.json") << dump_meta.dump(1);
  std::printf("dumped workload and selections to %s in %.1f s\n", opt.dump_dir.c_str(), seconds_since(t));
}

}  // namespace

void large_candidates(const LargeOptions& opt, nlohmann::json* out) {
  const auto t = std::chrono::steady_clock::now();
  const Workload w = large_workload(opt.layers, opt.steps, opt.capacity);
  const double gen_s = seconds_since(t);
  std::printf("\n`large` preset: %zu layers x %d steps, 32 q / 8 kv heads, %d keys, generated on the device + copied to the host in %.1f s\n",
              w.layers.size(), opt.steps, opt.capacity, gen_s);
  const std::unique_ptr<Backend> backend = timed_cuda_backend(w, opt, gen_s, out);
  const Reference& ref = backend->reference();
  std::vector<Candidate> candidates;
  candidates.push_back({"starter", starter(w)});
  candidates.push_back({"oracle_topk", oracle_top_k(w, ref, 0.10)});
  candidates.push_back({"uniform_sampling", uniform_sampling(w, 0.10)});
  std::printf("%-18s %9s %10s %10s %11s %12s %10s\n", "candidate", "density", "error", "gpu_ms", "pack_ms", "call_ms",
              "canon_ms");
  nlohmann::json dump_meta;
  for (const Candidate& c : candidates) bench_candidate(opt, w, *backend, c, out, &dump_meta);
  if (!opt.dump_dir.empty()) dump_workload(opt, w, std::move(dump_meta));
}

}  // namespace adrs::bench

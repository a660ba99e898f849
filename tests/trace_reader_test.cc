// The trace reader: round trips of small files the test writes in each dtype, and a clear error
// (never a crash) for every kind of malformed file.
#include "evaluator/trace.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace adrs {
namespace {

struct TestTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

// Encodes floats as F32, F16 (exactly representable inputs only) or BF16 (truncation).
std::string encode(const std::vector<float>& values, const std::string& dtype) {
  std::string out;
  for (float v : values) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    if (dtype == "F32") {
      out.append(reinterpret_cast<const char*>(&bits), 4);
    } else if (dtype == "BF16") {
      const uint16_t h = static_cast<uint16_t>(bits >> 16);
      out.append(reinterpret_cast<const char*>(&h), 2);
    } else {  // F16 for normal numbers of small magnitude
      const uint32_t sign = bits >> 31;
      const int exponent = static_cast<int>((bits >> 23) & 0xff) - 127 + 15;
      const uint16_t h = v == 0.0f ? 0 : static_cast<uint16_t>(sign << 15 | exponent << 10 | ((bits >> 13) & 0x3ff));
      out.append(reinterpret_cast<const char*>(&h), 2);
    }
  }
  return out;
}

std::string encode_ints(const std::vector<int32_t>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4);
}

std::string write_safetensors(const std::string& name, const std::map<std::string, TestTensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::json header;
  header["__metadata__"] = metadata;
  std::string data;
  for (const auto& [key, t] : tensors) {
    header[key] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  const std::string text = header.dump();
  const uint64_t length = text.size();
  const std::string path = ::testing::TempDir() + "/" + name + ".safetensors";
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&length), 8);
  out << text << data;
  return path;
}

const std::map<std::string, std::string> kMeta = {{"format", "adrs-attention-trace"}, {"version", "1"}, {"name", "tiny"}};

// Two entries, 2 kv heads x 6 keys x d=4, 2 steps x 4 query heads; values k/8 are exact in every dtype.
std::map<std::string, TestTensor> tiny_trace(const std::string& dtype) {
  std::map<std::string, TestTensor> t;
  for (int e = 0; e < 2; ++e) {
    std::vector<float> kv(2 * 6 * 4), q(2 * 4 * 4);
    for (size_t i = 0; i < kv.size(); ++i) kv[i] = static_cast<float>((static_cast<int>(i * 7 + e) % 17) - 8) / 8.0f;
    for (size_t i = 0; i < q.size(); ++i) q[i] = static_cast<float>((static_cast<int>(i * 5 + e) % 13) - 6) / 8.0f;
    const std::string base = "layer." + std::to_string(e) + ".";
    t[base + "keys"] = {dtype, {2, 6, 4}, encode(kv, dtype)};
    t[base + "values"] = {dtype, {2, 6, 4}, encode(kv, dtype)};
    t[base + "queries"] = {dtype, {2, 4, 4}, encode(q, dtype)};
    t[base + "num_keys"] = {"I32", {2}, encode_ints({5, 6})};
  }
  return t;
}

TEST(TraceReader, EveryDtypeLoadsTheSameNumbers) {
  Workload f32, bf16, f16;
  ASSERT_TRUE(load_trace(write_safetensors("f32", tiny_trace("F32"), kMeta), &f32).ok());
  const Status s1 = load_trace(write_safetensors("bf16", tiny_trace("BF16"), kMeta), &bf16);
  const Status s2 = load_trace(write_safetensors("f16", tiny_trace("F16"), kMeta), &f16);
  ASSERT_TRUE(s1.ok()) << s1.message();
  ASSERT_TRUE(s2.ok()) << s2.message();
  EXPECT_EQ(f32.name, "tiny");
  EXPECT_EQ(f32.num_rows(), 2 * 2 * 4);
  EXPECT_EQ(f32.num_kv_heads, 2);
  EXPECT_EQ(f32.head_dim, 4);
  EXPECT_FLOAT_EQ(f32.scale, 0.5f);
  EXPECT_EQ(f32.num_keys(0), 5);
  EXPECT_EQ(f32.num_keys(4), 6);
  for (const Workload* w : {&bf16, &f16}) {
    ASSERT_EQ(w->kv_floats(), f32.kv_floats());
    EXPECT_EQ(0, std::memcmp(w->keys_data(), f32.keys_data(), f32.kv_floats() * 4));
    EXPECT_EQ(0, std::memcmp(w->values_data(), f32.values_data(), f32.kv_floats() * 4));
    EXPECT_EQ(0, std::memcmp(w->queries_data(), f32.queries_data(), f32.query_floats() * 4));
  }
  // Row 5 is (entry 0, step 1, head 1): kv head 0 of entry 0, the second query of step 1.
  EXPECT_EQ(f32.keys(5), f32.keys_data());
  EXPECT_EQ(f32.query(5), f32.queries_data() + 5 * 4);
  EXPECT_EQ(f32.keys(6 + 8), f32.keys_data() + f32.layers[1].kv_offset + 6 * 4);
}

std::string load_error(const std::string& name, const std::map<std::string, TestTensor>& t,
                       const std::map<std::string, std::string>& meta = kMeta) {
  Workload w;
  const Status s = load_trace(write_safetensors(name, t, meta), &w);
  return s.ok() ? "" : s.message();
}

TEST(TraceReader, MalformedFilesGiveClearErrors) {
  auto t = tiny_trace("F32");
  t["layer.1.keys"].shape = {2, 4, 6};
  const std::string shape = load_error("shape", t);
  EXPECT_NE(shape.find("'layer.1."), std::string::npos) << shape;
  EXPECT_NE(shape.find("shape"), std::string::npos) << shape;

  t = tiny_trace("F32");
  t["layer.0.queries"] = {"F32", {2, 3, 4}, encode(std::vector<float>(24, 0.f), "F32")};
  EXPECT_NE(load_error("heads", t).find("multiple of"), std::string::npos);

  t = tiny_trace("F32");
  t["layer.0.values"].dtype = "F64";
  EXPECT_NE(load_error("dtype", t).find("dtype F64"), std::string::npos);

  t = tiny_trace("F32");
  t.erase("layer.1.values");
  EXPECT_NE(load_error("missing", t).find("missing tensor 'layer.1.values'"), std::string::npos);

  t = tiny_trace("F32");
  t.erase("layer.0.keys");
  EXPECT_NE(load_error("gap", t).find("layer.0.keys"), std::string::npos);

  t = tiny_trace("F32");
  t["layer.0.num_keys"].bytes = encode_ints({5, 7});
  EXPECT_NE(load_error("count", t).find("[1, 6]"), std::string::npos);

  t = tiny_trace("F32");
  t["layer.0.keys"].bytes = encode(std::vector<float>(48, NAN), "F32");
  EXPECT_NE(load_error("nan", t).find("non-finite"), std::string::npos);

  EXPECT_NE(load_error("meta", tiny_trace("F32"), {{"version", "1"}}).find("format"), std::string::npos);
  EXPECT_NE(load_error("scale", tiny_trace("F32"), {{"format", "adrs-attention-trace"}, {"version", "1"}, {"scale", "-1"}})
                .find("scale"), std::string::npos);
}

TEST(TraceReader, TruncatedAndCorruptFilesGiveClearErrors) {
  const std::string path = write_safetensors("whole", tiny_trace("BF16"), kMeta);
  const std::string bytes = test::read_file(path);
  Workload w;
  for (size_t keep : {size_t{0}, size_t{5}, size_t{40}, bytes.size() - 1}) {
    const std::string cut = ::testing::TempDir() + "/cut.safetensors";
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, keep);
    const Status s = load_trace(cut, &w);
    ASSERT_FALSE(s.ok()) << keep;
    EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.message();
  }
  std::string corrupt = bytes;
  corrupt[8] = '[';
  std::ofstream(::testing::TempDir() + "/corrupt.safetensors", std::ios::binary) << corrupt;
  const Status s = load_trace(::testing::TempDir() + "/corrupt.safetensors", &w);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("JSON"), std::string::npos) << s.message();
  EXPECT_NE(load_trace("/nonexistent/x.safetensors", &w).message().find("cannot open"), std::string::npos);
}

TEST(TraceReader, MakeWorkloadSelectsTraceFiles) {
  Workload w;
  const std::string path = write_safetensors("select", tiny_trace("F16"), kMeta);
  ASSERT_TRUE(make_workload(path, &w).ok());
  EXPECT_EQ(w.num_rows(), 16);
  const Status s = make_workload("/nonexistent/trace.safetensors", &w);
  EXPECT_NE(s.message().find("cannot open"), std::string::npos);
}

// The shipped trace was written by tools/dump_attention_trace.py from the trained tinylm: it loads,
// and dense attention through the whole evaluator (compile, sandboxed worker) reproduces it.
TEST(TraceReader, TinylmTraceLoadsAndFullKeepIsExact) {
  Workload w;
  const Status s = make_workload("tinylm", &w);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(w.name, "tinylm");
  EXPECT_EQ(w.num_q_heads, 8);
  EXPECT_EQ(w.num_kv_heads, 2);
  EXPECT_GE(w.num_keys(0), 2000);
  const EvalResult r = test::make_evaluator(test::test_options("tinylm"))->evaluate_source(test::masker_source("keep_all"));
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_LT(r.metrics.error, 1e-5);
  EXPECT_EQ(r.metrics.density, 1.0);
}

}  // namespace
}  // namespace adrs

// The compile cache trusts nothing on disk: SHA-256 keys, the stored source compared byte for byte,
// the object checked against its recorded digest, no symlinks or FIFOs followed, stale temporary
// files removed on the next start.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "evaluator/compile_cache.h"
#include "evaluator/compiler.h"
#include "tests/security/compile_test_processes.h"
#include "tests/test_util.h"
#include "util/hash.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    path = test::make_test_dir(test::binary_dir(), "compile-cache");
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

std::string masker(const std::string& marker) {
  return "#include \"masker_api.h\"\nextern \"C\" const char adrs_test_marker[] = \"" + marker +
         "\";\nvoid select(const adrs::Row& row, adrs::Selection& out) { out.add(row.num_keys - 1); }\n";
}

CompileResult compile(const std::string& source, const std::string& cache) {
  CompileOptions options;
  options.cache_dir = cache;
  return compile_masker(source, options);
}

bool file_contains(const std::string& path, const std::string& text) {
  return test::read_file(path).find(text) != std::string::npos;
}

void copy_file(const std::string& from, const std::string& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

TEST(CompileCacheKey, IsSha256OverLengthPrefixedFields) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_NE(sha256_fields_hex({"ab", "c"}), sha256_fields_hex({"a", "bc"}));
  EXPECT_EQ(sha256_fields_hex({"ab", "c"}), sha256_fields_hex({"ab", "c"}));
}

TEST(CompileCache, TheSameSourceIsServedFromTheCacheTheSecondTime) {
  TempDir dir;
  const CompileResult first = compile(masker("same"), dir.path);
  const CompileResult second = compile(masker("same"), dir.path);
  ASSERT_TRUE(first.ok() && second.ok()) << first.message << second.message;
  EXPECT_FALSE(first.cached);
  EXPECT_TRUE(second.cached);
  EXPECT_EQ(first.so_path, second.so_path);
}

// What an XXH64 collision used to do: another source's object under the candidate's key.
TEST(CompileCache, AnEntryPlantedUnderTheKeyWithAnotherSourceIsNeverUsed) {
  TempDir dir;
  const CompileResult a = compile(masker("victim-AAAA"), dir.path);
  const CompileResult b = compile(masker("attacker-BBBB"), dir.path);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_NE(a.key, b.key);
  // Plant b's whole entry (source and object) under a's key.
  copy_file(dir.path + "/" + b.key + ".entry", dir.path + "/" + a.key + ".entry");
  copy_file(dir.path + "/" + b.key + ".so", dir.path + "/" + a.key + ".so");
  const CompileResult again = compile(masker("victim-AAAA"), dir.path);
  ASSERT_TRUE(again.ok()) << again.message;
  EXPECT_FALSE(again.cached) << "a colliding entry must be a miss";
  EXPECT_TRUE(file_contains(again.so_path, "victim-AAAA"));
  EXPECT_FALSE(file_contains(again.so_path, "attacker-BBBB"));
}

TEST(CompileCache, AnObjectSwappedUnderAValidEntryIsNeverUsed) {
  TempDir dir;
  const CompileResult a = compile(masker("victim-AAAA"), dir.path);
  const CompileResult b = compile(masker("attacker-BBBB"), dir.path);
  ASSERT_TRUE(a.ok() && b.ok());
  copy_file(b.so_path, a.so_path);  // the entry still names a's source and a's digest
  const CompileResult again = compile(masker("victim-AAAA"), dir.path);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.cached);
  EXPECT_TRUE(file_contains(again.so_path, "victim-AAAA"));
}

TEST(CompileCache, SymlinksAndFifosInTheCacheAreNotFollowed) {
  TempDir dir;
  const CompileResult a = compile(masker("victim-AAAA"), dir.path);
  ASSERT_TRUE(a.ok());
  const std::string entry = dir.path + "/" + a.key + ".entry";
  const std::string saved = test::read_file(entry);
  // A FIFO as the entry must not hang the lookup.
  fs::remove(entry);
  ASSERT_EQ(::mkfifo(entry.c_str(), 0600), 0);
  const CompileResult fifo = compile(masker("victim-AAAA"), dir.path);
  EXPECT_TRUE(fifo.ok());
  EXPECT_FALSE(fifo.cached);
  // A symlink as the object: refused even when it points at a correct copy.
  std::ofstream(entry, std::ios::binary | std::ios::trunc) << saved;
  const std::string copy = dir.path + "/copy.so";
  copy_file(a.so_path, copy);
  fs::remove(a.so_path);
  fs::create_symlink(copy, a.so_path);
  const CompileResult link = compile(masker("victim-AAAA"), dir.path);
  EXPECT_TRUE(link.ok());
  EXPECT_FALSE(link.cached);
  EXPECT_FALSE(fs::is_symlink(link.so_path));
}

TEST(CompileCache, CompileErrorsAreCachedWithTheirSource) {
  TempDir dir;
  const std::string broken = "#include \"masker_api.h\"\nvoid select(const adrs::Row& row, adrs::Selection& out) { nope(); }\n";
  const CompileResult first = compile(broken, dir.path);
  const CompileResult second = compile(broken, dir.path);
  EXPECT_EQ(first.outcome, CompileResult::Outcome::kCompileError);
  EXPECT_EQ(second.outcome, CompileResult::Outcome::kCompileError);
  EXPECT_TRUE(second.cached);
  EXPECT_NE(second.log.find("nope"), std::string::npos);
  // A planted failure under a good source's key does not fail the good source.
  const CompileResult good = compile(masker("good"), dir.path);
  ASSERT_TRUE(good.ok());
  copy_file(dir.path + "/" + first.key + ".entry", dir.path + "/" + good.key + ".entry");
  const CompileResult again = compile(masker("good"), dir.path);
  EXPECT_TRUE(again.ok()) << again.message;
}

TEST(CompileCache, AHugeObjectIsAFileSizeErrorAndNeverStaysInTheCache) {
  TempDir dir;
  // 100 MiB of initialized data: the linker's output passes the 64 MiB file-size limit.
  const CompileResult r = compile(
      "#include \"masker_api.h\"\nextern \"C\" char adrs_test_big[100 << 20] = {1};\n"
      "void select(const adrs::Row& row, adrs::Selection& out) { out.add(row.num_keys - 1 + adrs_test_big[7]); }\n",
      dir.path);
  EXPECT_EQ(r.outcome, CompileResult::Outcome::kCompileError) << r.message;
  EXPECT_NE(r.message.find("file-size limit"), std::string::npos) << r.message;
  for (const auto& e : fs::recursive_directory_iterator(dir.path))
    if (e.is_regular_file()) {
      EXPECT_LE(e.file_size(), kMaxMaskerObjectBytes) << e.path();
    }
  EXPECT_FALSE(fs::exists(dir.path + "/" + r.key + ".so"));
}

TEST(CompileCache, StaleTemporaryFilesOfDeadProcessesAreRemovedOnOpen) {
  TempDir dir;
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // a pid that is gone
  const std::string dead = dir.path + "/tmp." + std::to_string(child) + ".0.x.so";
  const std::string old_format = dir.path + "/0123456789abcdef." + std::to_string(child) + ".0011223344556677.cpp";
  const std::string live = dir.path + "/tmp." + std::to_string(::getpid()) + ".0.x.so";
  const std::string unrelated = dir.path + "/notes.txt";
  for (const std::string& path : {dead, old_format, live, unrelated}) std::ofstream(path) << "x";
  EXPECT_EQ(remove_stale_temp_files(dir.path), 2);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(old_format));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(unrelated));
}

TEST(CompileCache, ReadRegularFileRefusesLargeFilesSymlinksAndDevices) {
  TempDir dir;
  std::string out;
  std::ofstream(dir.path + "/big") << std::string(2000, 'x');
  EXPECT_FALSE(read_regular_file(dir.path + "/big", 1000, &out).ok());
  EXPECT_TRUE(read_regular_file(dir.path + "/big", 2000, &out).ok());
  fs::create_symlink(dir.path + "/big", dir.path + "/link");
  EXPECT_FALSE(read_regular_file(dir.path + "/link", 1 << 20, &out).ok());
  EXPECT_FALSE(read_regular_file("/dev/zero", 1 << 20, &out).ok());
}

}  // namespace
}  // namespace adrs

// CompileCache on its own (no compiler): an entry is found only under its key and only for the
// byte-identical source; a truncated or corrupt entry or object is a miss, never a hit; writes go
// through a temporary name; temporary files of dead processes are removed.
// (tests/security/compile_cache_test.cc attacks the cache through compile_masker.)
#include "evaluator/compile_cache.h"

#include <sys/mman.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "util/hash.h"

namespace adrs {
namespace {

namespace fs = std::filesystem;

const std::string kKey = sha256_hex("key of the test entry");
const std::string kSource = "void select(const adrs::Row&, adrs::Selection&) {}\n";
const std::string kObject = std::string("\x7f" "ELF pretend object bytes\0with a zero", 36);

class CompileCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("adrs-cache-unit-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    ASSERT_TRUE(CompileCache::Open(dir_, &cache_).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Stores kObject for kSource under kKey.
  void store_object() {
    const int fd = ::memfd_create("object", MFD_CLOEXEC);
    ASSERT_EQ(::write(fd, kObject.data(), kObject.size()), static_cast<ssize_t>(kObject.size()));
    std::string so_path;
    const Status s = cache_->store_compiled(kKey, kSource, "compiler log", fd, kObject.size(), &so_path);
    ::close(fd);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(so_path, dir_ + "/" + kKey + ".so");
  }

  std::string read(const std::string& name) {
    std::ifstream in(dir_ + "/" + name, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  void write(const std::string& name, const std::string& bytes) { std::ofstream(dir_ + "/" + name, std::ios::binary) << bytes; }

  std::string dir_;
  std::unique_ptr<CompileCache> cache_;
};

TEST_F(CompileCacheTest, AStoredObjectIsFoundForTheSameSourceWithItsLog) {
  store_object();
  const CompileCache::Lookup hit = cache_->find(kKey, kSource);
  EXPECT_EQ(hit.hit, CompileCache::Hit::kCompiled);
  EXPECT_EQ(hit.so_path, dir_ + "/" + kKey + ".so");
  EXPECT_EQ(hit.log, "compiler log");
  EXPECT_EQ(read(kKey + ".so"), kObject);
}

TEST_F(CompileCacheTest, AnEmptyCacheAndAnotherKeyAreMisses) {
  EXPECT_EQ(cache_->find(kKey, kSource).hit, CompileCache::Hit::kMiss);
  store_object();
  EXPECT_EQ(cache_->find(sha256_hex("another key"), kSource).hit, CompileCache::Hit::kMiss);
}

TEST_F(CompileCacheTest, TheKeyIsOnlyAnAddressTheStoredSourceMustMatchByteForByte) {
  store_object();
  EXPECT_EQ(cache_->find(kKey, kSource + " ").hit, CompileCache::Hit::kMiss);
  EXPECT_EQ(cache_->find(kKey, kSource.substr(1)).hit, CompileCache::Hit::kMiss);
  EXPECT_EQ(cache_->find(kKey, "").hit, CompileCache::Hit::kMiss);
}

TEST_F(CompileCacheTest, ATruncatedOrChangedObjectIsAMiss) {
  store_object();
  write(kKey + ".so", kObject.substr(0, kObject.size() - 1));
  EXPECT_EQ(cache_->find(kKey, kSource).hit, CompileCache::Hit::kMiss);
  std::string changed = kObject;
  changed[5] ^= 1;
  write(kKey + ".so", changed);
  EXPECT_EQ(cache_->find(kKey, kSource).hit, CompileCache::Hit::kMiss);
  write(kKey + ".so", kObject);
  EXPECT_EQ(cache_->find(kKey, kSource).hit, CompileCache::Hit::kCompiled);  // the whole object again: a hit
}

TEST_F(CompileCacheTest, ATruncatedEntryIsAMissAtEveryLength) {
  store_object();
  const std::string entry = read(kKey + ".entry");
  ASSERT_GT(entry.size(), kSource.size());
  for (size_t length = 0; length < entry.size(); ++length) {
    write(kKey + ".entry", entry.substr(0, length));
    EXPECT_EQ(cache_->find(kKey, kSource).hit, CompileCache::Hit::kMiss) << "entry cut to " << length << " bytes";
  }
}

TEST_F(CompileCacheTest, AnEntryWithTrailingBytesABadMagicOrAnUnknownOutcomeIsAMiss) {
  store_object();
  const std::string entry = read(kKey + ".entry");
  write(kKey + ".entry", entry + "x");
  EXPECT_EQ(cache_->find(kKey, kSource).hit, CompileCache::Hit::kMiss);
  std::string bad_magic = entry;
  bad_magic[0] = 'b';
  write(kKey + ".entry", bad_magic);
  EXPECT_EQ(cache_->find(kKey, kSource).hit, CompileCache::Hit::kMiss);
  std::string other_outcome = entry;
  const size_t at = other_outcome.find("outcome compiled");
  ASSERT_NE(at, std::string::npos);
  other_outcome.replace(at, 16, "outcome compilez");
  write(kKey + ".entry", other_outcome);
  EXPECT_EQ(cache_->find(kKey, kSource).hit, CompileCache::Hit::kMiss);
}

TEST_F(CompileCacheTest, ASourceLengthThatPassesTheEndIsAMiss) {
  store_object();
  std::string entry = read(kKey + ".entry");
  const std::string length = "source " + std::to_string(kSource.size()) + "\n";
  const size_t at = entry.find(length);
  ASSERT_NE(at, std::string::npos);
  entry.replace(at, length.size(), "source 99999999\n");
  write(kKey + ".entry", entry);
  EXPECT_EQ(cache_->find(kKey, kSource).hit, CompileCache::Hit::kMiss);
}

TEST_F(CompileCacheTest, ACompileErrorIsStoredWithItsSourceAndLog) {
  ASSERT_TRUE(cache_->store_compile_error(kKey, kSource, "error: expected ';'").ok());
  const CompileCache::Lookup hit = cache_->find(kKey, kSource);
  EXPECT_EQ(hit.hit, CompileCache::Hit::kCompileError);
  EXPECT_EQ(hit.log, "error: expected ';'");
  EXPECT_EQ(hit.so_path, "");
  EXPECT_EQ(cache_->find(kKey, kSource + "\n").hit, CompileCache::Hit::kMiss);
}

TEST_F(CompileCacheTest, AnObjectOverTheLimitIsRefusedBeforeItIsRead) {
  std::string so_path;
  const Status s = cache_->store_compiled(kKey, kSource, "", -1, kMaxMaskerObjectBytes + 1, &so_path);
  EXPECT_EQ(s.message(), "the masker object is larger than 64 MiB");
  EXPECT_FALSE(fs::exists(dir_ + "/" + kKey + ".so"));
}

TEST_F(CompileCacheTest, WritesLeaveNoTemporaryFilesBehind) {
  store_object();
  ASSERT_TRUE(write_file_atomically(dir_, "note", "text").ok());
  EXPECT_EQ(read("note"), "text");
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_NE(entry.path().filename().string().rfind("tmp.", 0), 0u) << entry.path();
}

TEST_F(CompileCacheTest, TemporaryFilesOfDeadProcessesAreRemovedAndOursAreKept) {
  // pid 2^22 + 1 is above the kernel's pid_max limit (4194304): no process has it.
  write("tmp.4194305.0.so", "left by kill -9");
  const std::string ours = "tmp." + std::to_string(::getpid()) + ".7.so";
  write(ours, "in flight");
  write("tmp.notapid.so", "not ours to judge");
  EXPECT_EQ(remove_stale_temp_files(dir_), 1);
  EXPECT_FALSE(fs::exists(dir_ + "/tmp.4194305.0.so"));
  EXPECT_TRUE(fs::exists(dir_ + "/" + ours));
  EXPECT_TRUE(fs::exists(dir_ + "/tmp.notapid.so"));
}

TEST(ReadRegularFile, ReadsAWholeFileAndNamesTheLimitItPasses) {
  const std::string path = (fs::temp_directory_path() / ("adrs-read-regular-" + std::to_string(::getpid()))).string();
  std::ofstream(path) << "0123456789";
  std::string text;
  ASSERT_TRUE(read_regular_file(path, 10, &text).ok());
  EXPECT_EQ(text, "0123456789");
  EXPECT_EQ(read_regular_file(path, 9, &text).message(), path + " is larger than 9 bytes");
  fs::remove(path);
  EXPECT_EQ(read_regular_file(path, 9, &text).message(), "cannot open " + path + ": No such file or directory");
}

}  // namespace
}  // namespace adrs

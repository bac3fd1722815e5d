// tests/storage_test.cpp: both storage backends behave the same: the filesystem one, and the S3
// one talking HTTP to a real S3 peer (s3rver from npm, started on a free port).
#include "storage/storage.h"

#include <fstream>
#include <random>

#include "service_support.h"

namespace msaas::test {
namespace {

using storage::StorageError;

class StorageTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    storage::StorageConfig config;
    config.backend = GetParam();
    config.root = (dir / "root").string();
    if (GetParam() == "s3") {
      peer = std::make_unique<S3Peer>();
      config.endpoint = peer->endpoint();
      config.access_key = config.secret_key = "S3RVER";
    }
    store = storage::make_storage(config);
    store->ensure_bucket("queue");
  }

  // A file of `size` pseudo-random bytes.
  fs::path make_file(const std::string& name, size_t size) {
    std::mt19937 random(static_cast<unsigned>(size));
    std::string bytes(size, '\0');
    for (auto& b : bytes) b = static_cast<char>(random());
    write_text(dir / name, bytes);
    return dir / name;
  }

  std::string read_all(const std::string& key) {
    std::string out;
    store->read("queue", key, 0, *store->size("queue", key), [&](const char* d, size_t n) {
      out.append(d, n);
      return true;
    });
    return out;
  }

  TempDir dir;
  std::unique_ptr<S3Peer> peer;
  std::unique_ptr<storage::Storage> store;
};

TEST_P(StorageTest, StoresReadsAndRemovesLargeObjects) {
  // 3 MB: several buffers and curl transfers in both directions.
  auto file = make_file("song.mp3", 3 * 1024 * 1024 + 17);
  store->put_file("queue", "abc/song.mp3", file.string(), "audio/mpeg");
  ASSERT_EQ(store->size("queue", "abc/song.mp3"), 3 * 1024 * 1024 + 17);
  EXPECT_EQ(read_all("abc/song.mp3"), read_file(file));

  store->get_file("queue", "abc/song.mp3", (dir / "copy.mp3").string());
  EXPECT_EQ(read_file(dir / "copy.mp3"), read_file(file));
  EXPECT_FALSE(fs::exists(dir / "copy.mp3.part"));

  store->remove("queue", "abc/song.mp3");
  EXPECT_FALSE(store->size("queue", "abc/song.mp3"));
  store->remove("queue", "abc/song.mp3");  // removing twice is fine
}

TEST_P(StorageTest, ReadsByteRanges) {
  auto file = make_file("data.bin", 100000);
  store->put_file("queue", "data.bin", file.string(), "application/octet-stream");
  std::string part;
  store->read("queue", "data.bin", 1000, 5000, [&](const char* d, size_t n) {
    part.append(d, n);
    return true;
  });
  EXPECT_EQ(part, read_file(file).substr(1000, 5000));
}

TEST_P(StorageTest, ReplacesAnObjectWhole) {
  store->put_file("queue", "x", make_file("long", 5000).string(), "");
  store->put_file("queue", "x", make_file("short", 10).string(), "");
  EXPECT_EQ(read_all("x"), read_file(dir / "short"));
}

TEST_P(StorageTest, MissingObjectsAndBadNames) {
  EXPECT_FALSE(store->size("queue", "nothing/here"));
  expect_error<StorageError>([&] { store->get_file("queue", "nothing", (dir / "o").string()); },
                             "no object");
  EXPECT_FALSE(fs::exists(dir / "o"));
  using namespace std::string_literals;
  for (std::string bad : {"../etc/passwd"s, "a/../../b"s, ""s, "a//b"s, "/abs"s, "sp ace"s,
                          "nul\0x"s, std::string(600, 'a')})
    expect_error<StorageError>(
        [&] { store->put_file("queue", bad, make_file("f", 1).string(), ""); }, "object name");
}

TEST_P(StorageTest, CreatesBucketsAndChecksThem) {
  expect_error<StorageError>([&] { store->check("output"); }, "output");
  store->ensure_bucket("output");
  store->ensure_bucket("output");  // already there: fine
  store->check("output");
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageTest, ::testing::Values("fs", "s3"),
                         [](const auto& info) { return info.param; });

TEST(S3Storage, UnreachableEndpointIsAReadableError) {
  storage::StorageConfig config;
  config.backend = "s3";
  config.endpoint = "http://127.0.0.1:" + std::to_string(service::free_loopback_port());
  auto store = storage::make_storage(config);
  expect_error<StorageError>([&] { store->ensure_bucket("queue"); }, "127.0.0.1");
}

// No wrong-secret test: s3rver checks that requests are signed in the right format, not
// with which secret, so it cannot prove authentication (REFERENCE.md).

}  // namespace
}  // namespace msaas::test

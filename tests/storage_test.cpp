// tests/storage_test.cpp: both storage backends behave the same: the filesystem one, and the S3
// one talking HTTP to a real S3 peer (s3rver from npm, started on a free port, behind a front
// that checks every SigV4 signature as MinIO does). The signer itself is checked against AWS's
// published example.
#include "storage/storage.h"

#include <fstream>
#include <random>

#include "service_support.h"
#include "storage/sigv4.h"

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
      config.access_key = S3Peer::access_key;
      config.secret_key = S3Peer::secret_key;
      config.region = S3Peer::region;
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
  for (std::string bad : {"../etc/passwd"s, "a/../../b"s, ""s, "a//b"s, "/abs"s, "tab\tx"s,
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

TEST_P(StorageTest, KeysWithSpacesAndPlusSigns) {
  // S3 signs the path encoded once ('+' as %2B, ' ' as %20): a peer that decodes and re-encodes
  // it, as MinIO does, refuses any other encoding.
  auto file = make_file("odd", 4000);
  for (std::string key : {"with space/a b.mp3", "plus+sign/c+d.wav", "mixed +/ +x"}) {
    store->put_file("queue", key, file.string(), "audio/wav");
    EXPECT_EQ(read_all(key), read_file(file)) << key;
    std::string part;
    store->read("queue", key, 10, 20, [&](const char* d, size_t n) {
      part.append(d, n);
      return true;
    });
    EXPECT_EQ(part, read_file(file).substr(10, 20)) << key;
    store->remove("queue", key);
    EXPECT_FALSE(store->size("queue", key)) << key;
  }
  if (peer) {
    EXPECT_EQ(peer->log().find("refused"), std::string::npos) << peer->log();
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageTest, ::testing::Values("fs", "s3"),
                         [](const auto& test) { return test.param; });

TEST(S3Storage, UnreachableEndpointIsAReadableError) {
  storage::StorageConfig config;
  config.backend = "s3";
  config.endpoint = "http://127.0.0.1:" + std::to_string(service::free_loopback_port());
  auto store = storage::make_storage(config);
  expect_error<StorageError>([&] { store->ensure_bucket("queue"); }, "127.0.0.1");
}

// A folder the service cannot make (in a container: a volume its user may not write; as root in
// a test: a file in the way) is named in the error, not hidden behind the copy's ENOENT.
TEST(FsStorage, NamesTheFolderItCannotCreate) {
  TempDir dir;
  storage::StorageConfig config;
  config.root = (dir / "root").string();
  auto store = storage::make_storage(config);
  store->ensure_bucket("output");
  write_text(dir / "root" / "output" / "job", "a file where a folder should be");
  write_text(dir / "stem.mp3", "stem");
  expect_error<StorageError>(
      [&] { store->put_file("output", "job/vocals.mp3", (dir / "stem.mp3").string(), ""); },
      "cannot create folder " + (dir / "root" / "output" / "job").string());
}

// Every call a storage makes, with the wrong secret or region: each must be refused by the
// peer and reported with S3's reason.
TEST(S3Storage, WrongCredentialsAreRefusedWithTheReason) {
  S3Peer peer;
  storage::StorageConfig good;
  good.backend = "s3";
  good.endpoint = peer.endpoint();
  good.access_key = S3Peer::access_key;
  good.secret_key = S3Peer::secret_key;
  good.region = S3Peer::region;
  TempDir dir;
  write_text(dir / "f", "0123456789");
  storage::make_storage(good)->ensure_bucket("queue");
  storage::make_storage(good)->put_file("queue", "f", (dir / "f").string(), "");

  auto wrong_secret = good;
  wrong_secret.secret_key += "x";
  auto store = storage::make_storage(wrong_secret);
  expect_error<StorageError>([&] { store->put_file("queue", "g", (dir / "f").string(), ""); },
                             "SignatureDoesNotMatch");
  expect_error<StorageError>([&] { store->get_file("queue", "f", (dir / "o").string()); },
                             "SignatureDoesNotMatch");
  expect_error<StorageError>([&] { store->remove("queue", "f"); }, "SignatureDoesNotMatch");
  expect_error<StorageError>([&] { store->check("queue"); }, "SignatureDoesNotMatch");
  expect_error<StorageError>([&] { store->ensure_bucket("output"); }, "SignatureDoesNotMatch");

  auto wrong_region = good;
  wrong_region.region = "us-east-1";
  expect_error<StorageError>(
      [&] {
        storage::make_storage(wrong_region)->put_file("queue", "g", (dir / "f").string(), "");
      },
      "AuthorizationHeaderMalformed");
  auto wrong_key = good;
  wrong_key.access_key = "MSAAS/OTHER";
  expect_error<StorageError>([&] { storage::make_storage(wrong_key)->remove("queue", "f"); },
                             "InvalidAccessKeyId");
  // Nothing of the refused calls happened.
  EXPECT_EQ(storage::make_storage(good)->size("queue", "f"), 10);
  EXPECT_FALSE(storage::make_storage(good)->size("queue", "g"));
  EXPECT_FALSE(fs::exists(dir / "o"));
}

// AWS's worked example for S3 ("Example: GET Object" in the SigV4 header-signing docs): a secret
// with '/' in it, a signed Range header, the empty payload's hash.
TEST(SigV4, MatchesAwsPublishedExample) {
  storage::SigV4Key key{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                        "us-east-1"};
  storage::SigV4Request request;
  request.method = "GET";
  request.path = "/test.txt";
  request.payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  request.headers = {{"host", "examplebucket.s3.amazonaws.com"},
                     {"range", "bytes=0-9"},
                     {"x-amz-content-sha256", request.payload_hash},
                     {"x-amz-date", "20130524T000000Z"}};
  EXPECT_EQ(storage::sigv4_authorization(key, request, "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(storage::amz_date(1369353600), "20130524T000000Z");
}

}  // namespace
}  // namespace msaas::test

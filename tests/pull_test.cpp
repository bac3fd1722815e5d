// `msaas models pull` against a real HTTP server on loopback serving test checkpoints:
// verification, resume after a broken connection, and nothing bad left under a final name.
#include <gtest/gtest.h>

#include "file_server.h"
#include "msaas/download.h"
#include "msaas/engine.h"
#include "support.h"

namespace msaas::test {
namespace {

fs::path models_dir() {
  return test_data() / "parity" / "models";
}

std::string file_of(const std::string& sig) {
  return parity_checkpoint(sig).filename();
}

NamedModel tiny_model() {
  return {"tiny", {file_of("tinyht1")}, "models: ['tinyht1']\n", ""};
}

TEST(Pull, DownloadsVerifiesAndRegistersTheModel) {
  FileServer server(models_dir());
  TempDir dir;
  int64_t last_received = 0;
  pull_model(tiny_model(), dir.path().string(), server.url(),
             [&](const DownloadProgress& p) { last_received = p.received; });
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"tiny.yaml", file_of("tinyht1")}));
  EXPECT_EQ(last_received, static_cast<int64_t>(fs::file_size(models_dir() / file_of("tinyht1"))));
  auto sep = Separator::from_repo("tiny", dir.path().string());
  EXPECT_EQ(sep->sources().size(), 4u);
  // A second pull finds the valid file and fetches nothing.
  pull_model(tiny_model(), dir.path().string(), server.url());
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(Pull, ResumesABrokenDownloadWithARangeRequest) {
  FileServer server(models_dir());
  server.cut_first_response_after(100000);
  TempDir dir;
  pull_model(tiny_model(), dir.path().string(), server.url());
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0], "GET /" + file_of("tinyht1") + " range=0-");
  EXPECT_EQ(requests[1], "GET /" + file_of("tinyht1") + " range=100000-");
  EXPECT_EQ(read_text(dir / file_of("tinyht1")), read_text(models_dir() / file_of("tinyht1")));
}

TEST(Pull, AFileFailingItsChecksumNeverLandsUnderItsName) {
  TempDir served;
  fs::copy_file(models_dir() / file_of("tinyht1"), served / "tinyht1-00000000.th");
  FileServer server(served.path());
  TempDir dir;
  NamedModel bad{"bad", {"tinyht1-00000000.th"}, "models: ['tinyht1']\n", ""};
  expect_error<ModelError>([&] { pull_model(bad, dir.path().string(), server.url()); }, "checksum");
  EXPECT_TRUE(names_in(dir.path()).empty());
}

TEST(Pull, MissingFileIsAClearError) {
  FileServer server(models_dir());
  TempDir dir;
  NamedModel missing{"gone", {"gone-12345678.th"}, "models: ['gone']\n", ""};
  expect_error<ModelError>([&] { pull_model(missing, dir.path().string(), server.url()); },
                           "HTTP 404");
  EXPECT_TRUE(names_in(dir.path()).empty());
}

TEST(Pull, CommandLineReportsFailuresInOneLine) {
  TempDir empty;
  FileServer server(empty.path());
  TempDir dir;
  auto r = run_msaas(
      {"models", "pull", "htdemucs", "--repo", dir.path().string(), "--url", server.url()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("msaas: error: cannot download"), std::string::npos) << r.err;
  EXPECT_TRUE(names_in(dir.path()).empty());
  r = run_msaas({"models", "pull", "nosuchmodel", "--repo", dir.path().string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown model nosuchmodel"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace msaas::test

// Reading official checkpoints: content, checksums, damaged files, strict state loading.
#include <gtest/gtest.h>

#include "demucs/nn.h"
#include "demucs/states.h"
#include "msaas/engine.h"
#include "msaas/models.h"
#include "support.h"

namespace msaas::test {
namespace {

fs::path parity_models() {
  return test_data() / "parity" / "models";
}

TEST(Checkpoint, ReadsClassKwargsAndHalfPrecisionState) {
  auto package = demucs::load_package(parity_checkpoint("tinyht1").string());
  EXPECT_EQ(package.klass, "demucs.htdemucs.HTDemucs");
  demucs::Kwargs kwargs(package.kwargs);
  ASSERT_EQ(package.args.size(), 1u);  // the test models were built with sources positional
  ASSERT_EQ(package.args[0]->items.size(), 4u);
  EXPECT_EQ(package.args[0]->items[3]->text, "vocals");
  EXPECT_EQ(kwargs.integer("nfft", 0), 2048);
  auto segment = demucs::Rational::from(kwargs.raw("segment"), {});
  EXPECT_EQ(segment.num, 6);
  EXPECT_EQ(segment.den, 5);
  ASSERT_TRUE(package.state.count("encoder.0.conv.weight"));
  auto& w = package.state.at("encoder.0.conv.weight");
  EXPECT_EQ(w.scalar_type(), at::kHalf);  // kept as stored; Weights::take serves float32
  demucs::Weights weights(package.state);
  EXPECT_EQ(weights.take("encoder.0.conv.weight").scalar_type(), at::kFloat);
  EXPECT_EQ(weights.take_stored("encoder.0.conv.weight").scalar_type(), at::kHalf);
  EXPECT_EQ(w.sizes(), (std::vector<int64_t>{8, 4, 8, 1}));
}

TEST(Checkpoint, ChecksumInTheNameIsVerified) {
  EXPECT_NO_THROW(demucs::check_checksum(parity_checkpoint("tinyht1").string()));
  TempDir dir;
  auto wrong = dir / "tinyht1-00000000.th";
  fs::copy_file(parity_checkpoint("tinyht1"), wrong);
  expect_error<ModelError>([&] { demucs::check_checksum(wrong.string()); }, "checksum");
}

// Loading from a models folder reads the checksum beside the loader (repo.cpp); its error still
// comes first, whether the file otherwise loads or is cut short.
TEST(Checkpoint, LoadingFromAFolderChecksTheChecksumFirst) {
  auto real = parity_checkpoint("tinyht1");
  std::string name = real.filename().string();
  TempDir good, renamed, cut;
  fs::copy_file(real, good / name);
  EXPECT_NO_THROW(Separator::from_repo("tinyht1", good.path().string(), "cpu"));
  fs::copy_file(real, renamed / "tinyht1-00000000.th");
  expect_error<ModelError>([&] { Separator::from_repo("tinyht1", renamed.path().string(), "cpu"); },
                           "invalid checksum");
  std::string bytes = read_text(real);
  write_text(cut / name, bytes.substr(0, bytes.size() / 2));
  expect_error<ModelError>([&] { Separator::from_repo("tinyht1", cut.path().string(), "cpu"); },
                           "damaged or incomplete download");
}

TEST(Checkpoint, DamagedFilesGiveOneReadableError) {
  TempDir dir;
  write_text(dir / "junk.th", "definitely not a zip archive");
  EXPECT_THROW(demucs::load_package((dir / "junk.th").string()), ModelError);
  std::string bytes = read_text(parity_checkpoint("tinyht1"));
  write_text(dir / "cut.th", bytes.substr(0, bytes.size() / 2));
  EXPECT_THROW(demucs::load_package((dir / "cut.th").string()), ModelError);
  EXPECT_THROW(demucs::load_package((dir / "missing.th").string()), ModelError);
}

TEST(Checkpoint, StateMustFitTheModelExactly) {
  auto t = at::zeros({2, 3});
  demucs::Weights w({{"a", t}, {"b", t}});
  EXPECT_THROW(w.take("a", {3, 2}), ModelError);
  w.take("a", {2, 3});
  EXPECT_THROW(w.check_all_used(), ModelError);  // "b" was never used
  EXPECT_THROW(w.take("c"), ModelError);
}

TEST(Repo, FindsSinglesAndBagsAndExplainsMissingModels) {
  auto installed = list_installed_models(parity_models().string());
  EXPECT_EQ(installed.bags, (std::vector<std::string>{"tinybag"}));
  EXPECT_EQ(installed.singles.size(), 4u);
  auto sep = Separator::from_repo("tinyht6", parity_models().string());
  EXPECT_EQ(sep->sources().size(), 6u);
  EXPECT_EQ(sep->sample_rate(), 8000);
  EXPECT_DOUBLE_EQ(sep->max_segment(), 1.2);
  EXPECT_THROW(Separator::from_repo("nosuchmodel", parity_models().string()), ModelError);
  expect_error<ModelError>([&] { Separator::from_repo("htdemucs", parity_models().string()); },
                           "msaas models pull htdemucs");
}

// This machine's libtorch (Debian's) has no CUDA: "auto" falls back to the CPU, and asking for a
// GPU is one readable error instead of a crash deep in libtorch.
TEST(Repo, DeviceAutoFallsBackToTheCpuAndAMissingGpuIsAClearError) {
  EXPECT_EQ(Separator::from_repo("tinyht1", parity_models().string(), "auto")->device(), "cpu");
  EXPECT_EQ(Separator::from_repo("tinyht1", parity_models().string())->device(), "cpu");
  expect_error<ModelError>(
      [&] { Separator::from_repo("tinyht1", parity_models().string(), "cuda"); }, "no CUDA GPU");
  expect_error<ModelError>(
      [&] { Separator::from_repo("tinyht1", parity_models().string(), "tpu:3"); },
      "unknown device 'tpu:3'");
}

TEST(Checkpoint, RealHtdemucsLoadsWithAllItsParameters) {
  fs::path real = real_htdemucs();
  if (real.empty()) GTEST_SKIP() << "no real htdemucs in " << shared_models();
  auto package = demucs::load_package(real.string());
  int64_t parameters = 0;
  for (const auto& [name, tensor] : package.state) parameters += tensor.numel();
  EXPECT_GT(parameters, 41900000);
  EXPECT_LT(parameters, 42100000);
  auto sep = Separator::from_file(real.string());
  EXPECT_EQ(sep->sources(), (std::vector<std::string>{"drums", "bass", "other", "vocals"}));
  EXPECT_DOUBLE_EQ(sep->max_segment(), 7.8);
  // Its folder offers it under its official name too (htdemucs.yaml is built in).
  auto installed = list_installed_models(shared_models().string());
  EXPECT_NE(std::find(installed.bags.begin(), installed.bags.end(), "htdemucs"),
            installed.bags.end());
  EXPECT_EQ(Separator::from_repo("htdemucs", shared_models().string())->sources().size(), 4u);
}

}  // namespace
}  // namespace msaas::test

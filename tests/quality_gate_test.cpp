// The quality gate: the real htdemucs on the quick subset of the evaluation set
// (tools/eval/make_eval_set.py --subset quick) must keep every stem's SDR within 0.1 dB of the
// committed baseline (tests/data/quality/baseline-quick.json), and fast mode must stay within the
// bounds the performance issue sets it. Skipped where the real weights are absent
// (../shared/models).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "support.h"

namespace msaas::test {
namespace {

TEST(QualityGate, RealHtdemucsKeepsItsSdrOnTheQuickSet) {
  if (real_htdemucs().empty()) GTEST_SKIP() << "no real htdemucs in " << shared_models();
  fs::path set = fs::path(MSAAS_BUILD_DIR) / "eval-quick";
  auto made = run({"/usr/bin/python3",
                   (fs::path(MSAAS_SOURCE_DIR) / "tools/eval/make_eval_set.py").string(), "--out",
                   set.string(), "--subset", "quick"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  TempDir dir;
  auto r = run_msaas({"eval", set.string(), "--repo", shared_models().string(), "-n", "htdemucs",
                      "--shifts", "0", "-j", "2", "--json", (dir / "results.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::cout << r.out;
  auto results = nlohmann::json::parse(read_text(dir / "results.json"));
  auto baseline = nlohmann::json::parse(read_text(test_data() / "quality" / "baseline-quick.json"));
  ASSERT_EQ(results["mixtures"].size(), baseline["mixtures"].size());
  for (size_t i = 0; i < baseline["mixtures"].size(); ++i) {
    const auto& want = baseline["mixtures"][i];
    const auto& got = results["mixtures"][i];
    ASSERT_EQ(got["name"], want["name"]);
    for (const auto& [stem, sdr] : want["sdr"].items())
      EXPECT_GE(got["sdr"][stem].get<double>(), sdr.get<double>() - 0.1)
          << want["name"] << " " << stem << " dropped below the baseline";
  }

  // Fast mode's cost, as the performance issue bounds it: at most 0.05 dB on each stem's median
  // and 0.5 dB on any stem of any mixture, against the exact run just made. mix01 is in the set
  // because bfloat16 attention once cost its stems up to 0.56 dB.
  auto fast =
      run_msaas({"eval", set.string(), "--repo", shared_models().string(), "-n", "htdemucs",
                 "--shifts", "0", "--fast", "-j", "2", "--json", (dir / "fast.json").string()});
  ASSERT_EQ(fast.exit_code, 0) << fast.err;
  std::cout << fast.out;
  auto fast_results = nlohmann::json::parse(read_text(dir / "fast.json"));
  ASSERT_EQ(fast_results["fast"], true) << "the run was not in fast mode";
  for (size_t i = 0; i < results["mixtures"].size(); ++i)
    for (const auto& [stem, sdr] : results["mixtures"][i]["sdr"].items())
      EXPECT_LE(
          std::abs(fast_results["mixtures"][i]["sdr"][stem].get<double>() - sdr.get<double>()), 0.5)
          << results["mixtures"][i]["name"] << " " << stem << ": fast mode moved it too far";
  for (const auto& [stem, median] : results["median"].items())
    EXPECT_LE(std::abs(fast_results["median"][stem].get<double>() - median.get<double>()), 0.05)
        << stem << ": fast mode moved the median too far";
}

}  // namespace
}  // namespace msaas::test

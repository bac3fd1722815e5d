// tests/deploy_test.cpp: the deployment renders and validates without a cluster: every
// Kubernetes overlay through `kubectl kustomize`, each object against the official schemas, and
// the rules that matter (deploy/validate/validate.mjs); and the validator does catch mistakes.
#include <regex>

#include "support.h"

namespace msaas::test {
namespace {

fs::path deploy_dir() {
  return fs::path(MSAAS_SOURCE_DIR) / "deploy";
}

bool have_kubectl() {
  return run({"sh", "-c", "command -v kubectl"}).exit_code == 0;
}

TEST(Deploy, EveryOverlayRendersAndValidates) {
  if (!have_kubectl()) GTEST_SKIP() << "kubectl is not installed on this machine";
  auto result = run({"bash", (deploy_dir() / "validate" / "run.sh").string()});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  for (const char* overlay : {"local:", "gke:", "gke-gpu:"})
    EXPECT_NE(result.out.find(overlay), std::string::npos) << result.out;
}

TEST(Deploy, TheValidatorCatchesWhatMatters) {
  if (!have_kubectl()) GTEST_SKIP() << "kubectl is not installed on this machine";
  TempDir dir;
  auto rendered =
      run({"kubectl", "kustomize", (deploy_dir() / "k8s" / "overlays" / "gke").string()});
  ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
  std::string broken =
      std::regex_replace(rendered.out, std::regex("redis:7\\.0\\.15-bookworm"), "redis:latest");
  broken = std::regex_replace(broken, std::regex("(name: minio\n)  type: ClusterIP"),
                              "$1  type: LoadBalancer");
  broken = std::regex_replace(broken, std::regex("terminationGracePeriodSeconds: 2730"),
                              "terminationGracePeriodSeconds: 30");
  broken = std::regex_replace(broken, std::regex("MSAAS_GRACE_SECONDS: \"2700\""),
                              "MSAAS_GRACE_SECONDS: \"600\"");
  broken = std::regex_replace(broken, std::regex("sizeLimit: 16Gi"), "sizeLimit: 8Gi");
  broken = std::regex_replace(broken, std::regex("sizeLimit: 9Gi"), "sizeLimit: 4Gi");
  broken = std::regex_replace(broken, std::regex("- 169\\.254\\.0\\.0/16\n"), "");
  // Scaling on waiting jobs alone scales a long song's worker away in mid-job (issue 17).
  broken =
      std::regex_replace(broken, std::regex("valueLocation: demand"), "valueLocation: waiting");
  broken = std::regex_replace(broken, std::regex("- always"), "- everysec");
  broken +=
      "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\nstringData:\n  k: v\n"
      "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\nspec:\n"
      "  replicas: many\n";
  write_text(dir / "broken.yaml", broken);
  auto result = run({"node", (deploy_dir() / "validate" / "validate.mjs").string(),
                     "broken=" + (dir / "broken.yaml").string()});
  EXPECT_EQ(result.exit_code, 1);
  for (const char* words :
       {"moving tag", "Service minio must be ClusterIP", "appendfsync always",
        "terminationGracePeriodSeconds", "Secret/leaked", "schema:", "/scaling demand",
        "0.75 x MSAAS_MAX_AUDIO_SECONDS", "largest job's scratch", "every concurrent upload",
        "egress NetworkPolicy"})
    EXPECT_NE(result.err.find(words), std::string::npos) << words << "\n" << result.err;
}

// Every first group of `pattern` in `text`.
std::vector<std::string> captures(const std::string& text, const std::string& pattern) {
  std::vector<std::string> out;
  std::regex re(pattern);
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
    out.push_back((*it)[1]);
  return out;
}

// The version lives in VERSION alone (images are tagged from it by scripts/build-images.sh); the
// manifests must name the same tag, or a deploy would run another build than the one made.
TEST(Deploy, ManifestsNameTheVersionInVersionFile) {
  std::string version = read_text(fs::path(MSAAS_SOURCE_DIR) / "VERSION");
  version = version.substr(0, version.find('\n'));
  ASSERT_TRUE(std::regex_match(version, std::regex(R"(\d+\.\d+\.\d+)"))) << version;
  size_t tags = 0;
  for (const auto& file : fs::recursive_directory_iterator(deploy_dir() / "k8s")) {
    if (file.path().filename() != "kustomization.yaml") continue;
    for (const auto& tag : captures(read_text(file.path()), R"re(newTag: "([^"]+)")re")) {
      EXPECT_EQ(tag, version) << file.path();
      ++tags;
    }
  }
  EXPECT_GE(tags, 4u);
  auto images = captures(read_text(deploy_dir() / "compose.yaml"), R"(image: msaas-[a-z-]+:(\S+))");
  EXPECT_GE(images.size(), 3u);
  for (const auto& tag : images) EXPECT_EQ(tag, version);
}

}  // namespace
}  // namespace msaas::test

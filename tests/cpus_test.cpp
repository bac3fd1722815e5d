// What "all cores" means (common/cpus.h): the CPUs this process's affinity allows, capped by a
// container's CPU quota, as cgroup v2's cpu.max and v1's cfs files state it.
#include "common/cpus.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>

#include "support.h"

namespace msaas::common {
namespace {

TEST(UsableCpus, ACgroupV2QuotaIsRoundedUpToWholeCpus) {
  EXPECT_EQ(cpus_of_cgroup_v2("200000 100000"), 2);
  EXPECT_EQ(cpus_of_cgroup_v2("150000 100000"), 2);
  EXPECT_EQ(cpus_of_cgroup_v2("50000 100000"), 1);
  EXPECT_EQ(cpus_of_cgroup_v2("400000 50000\n"), 8);
}

TEST(UsableCpus, NoQuotaOrAnUnreadableOneLimitsNothing) {
  EXPECT_EQ(cpus_of_cgroup_v2("max 100000"), std::nullopt);
  EXPECT_EQ(cpus_of_cgroup_v2(""), std::nullopt);
  EXPECT_EQ(cpus_of_cgroup_v2("lots 100000"), std::nullopt);
  EXPECT_EQ(cpus_of_cgroup_v2("200000"), std::nullopt);
  EXPECT_EQ(cpus_of_quota(-1, 100000), std::nullopt);  // cgroup v1's "no quota"
  EXPECT_EQ(cpus_of_quota(100000, 0), std::nullopt);
  EXPECT_EQ(cpus_of_quota(300000, 100000), 3);
}

TEST(UsableCpus, FollowsTheAffinityMask) {
  cpu_set_t before;
  ASSERT_EQ(sched_getaffinity(0, sizeof before, &before), 0);
  int first = 0;
  while (!CPU_ISSET(first, &before)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  int pinned = usable_cpus();
  ASSERT_EQ(sched_setaffinity(0, sizeof before, &before), 0);
  EXPECT_EQ(pinned, 1);
  EXPECT_GE(usable_cpus(), 1);
  EXPECT_LE(usable_cpus(), CPU_COUNT(&before));
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

TEST(UsableCpus, TakesTheSmallestQuotaOnTheWayUpFromItsCgroup) {
  test::TempDir dir;
  auto mount = dir / "cgroup";
  // cgroup v2, a pod's quota on the parent of the container's cgroup.
  write_file(dir / "v2", "0::/kubepods/pod1/ctr\n");
  write_file(mount / "kubepods/pod1/cpu.max", "200000 100000\n");
  write_file(mount / "kubepods/pod1/ctr/cpu.max", "max 100000\n");
  EXPECT_EQ(cgroup_cpu_limit((dir / "v2").string(), mount.string()), 2);
  write_file(mount / "kubepods/pod1/ctr/cpu.max", "100000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit((dir / "v2").string(), mount.string()), 1);
  // cgroup v1 inside a container: the host's path is not mounted, the container's own cgroup
  // is the mount's root.
  write_file(dir / "v1", "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n");
  write_file(mount / "cpu,cpuacct/cpu.cfs_quota_us", "300000\n");
  write_file(mount / "cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_limit((dir / "v1").string(), mount.string()), 3);
  write_file(mount / "cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
  EXPECT_EQ(cgroup_cpu_limit((dir / "v1").string(), mount.string()), std::nullopt);
  EXPECT_EQ(cgroup_cpu_limit((dir / "missing").string(), mount.string()), std::nullopt);
}

// The machine's own cgroups: a child process moved into a new cgroup with a quota of one CPU
// reports 1. Needs root and a cpu controller this process may make cgroups in (v2 or v1).
TEST(UsableCpus, ARealCgroupQuotaOfOneCpuGivesOne) {
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof allowed, &allowed), 0);
  if (CPU_COUNT(&allowed) < 2) GTEST_SKIP() << "one CPU: a quota of one changes nothing";
  namespace fs = std::filesystem;
  std::string name = "msaas-cpus-test-" + std::to_string(getpid());
  fs::path group;
  std::error_code error;
  for (const auto& [root, quota_file, quota] :
       {std::tuple{fs::path("/sys/fs/cgroup"), "cpu.max", "100000 100000"},
        std::tuple{fs::path("/sys/fs/cgroup/cpu"), "cpu.cfs_quota_us", "100000"}}) {
    if (!fs::exists(root / "cgroup.procs") || !fs::create_directory(root / name, error)) continue;
    std::ofstream(root / name / "cpu.cfs_period_us") << "100000";
    std::ofstream out(root / name / quota_file);
    if ((out << quota).flush()) {
      group = root / name;
      break;
    }
    out.close();
    fs::remove(root / name, error);
  }
  if (group.empty()) GTEST_SKIP() << "no cgroup with a CPU quota can be made here";
  pid_t child = fork();
  constexpr int kNotMoved = 200;  // the machine would not take the child into the cgroup
  if (child == 0) {
    std::ofstream(group / "cgroup.procs") << getpid();
    std::ifstream mine("/proc/self/cgroup");
    std::string text((std::istreambuf_iterator<char>(mine)), std::istreambuf_iterator<char>());
    _exit(text.find(name) == std::string::npos ? kNotMoved : usable_cpus());
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  fs::remove(group, error);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == kNotMoved) GTEST_SKIP() << "could not move a process into " << group;
  EXPECT_EQ(WEXITSTATUS(status), 1) << "usable CPUs under a quota of one (in " << group << ")";
}

}  // namespace
}  // namespace msaas::common

// What "all cores" means (common/cpus.h): the CPUs this process's affinity allows, capped by a
// container's CPU quota, as cgroup v2's cpu.max and v1's cfs files state it.
#include "common/cpus.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
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
  // OpenMP's binding pins the thread that loads libgomp: its mask then says nothing.
  setenv("OMP_PROC_BIND", "true", 1);
  int bound = usable_cpus();
  unsetenv("OMP_PROC_BIND");
  ASSERT_EQ(sched_setaffinity(0, sizeof before, &before), 0);
  EXPECT_EQ(pinned, 1);
  int machine = static_cast<int>(std::thread::hardware_concurrency());
  EXPECT_EQ(bound, std::min(machine, cgroup_cpu_limit().value_or(machine)));
  EXPECT_GE(usable_cpus(), 1);
  EXPECT_LE(usable_cpus(), CPU_COUNT(&before));
}

// support.h's write_text, into folders made as needed (a fake cgroup tree).
void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  test::write_text(path, text);
}

TEST(UsableCpus, TakesTheSmallestQuotaOnTheWayUpFromItsCgroup) {
  test::TempDir dir;
  auto v2 = dir / "v2", v1 = dir / "v1";
  auto limit = [&](const std::string& proc_cgroup, const std::string& mountinfo) {
    write_file(dir / "cgroup", proc_cgroup);
    write_file(dir / "mountinfo", mountinfo);
    return cgroup_cpu_limit((dir / "cgroup").string(), (dir / "mountinfo").string());
  };
  // cgroup v2 on a host: a pod's quota on the parent of the container's cgroup.
  std::string host_v2 = "30 20 0:26 / " + v2.string() + " rw - cgroup2 cgroup2 rw\n";
  write_file(v2 / "kubepods/pod1/cpu.max", "200000 100000\n");
  write_file(v2 / "kubepods/pod1/ctr/cpu.max", "max 100000\n");
  EXPECT_EQ(limit("0::/kubepods/pod1/ctr\n", host_v2), 2);
  write_file(v2 / "kubepods/pod1/ctr/cpu.max", "100000 100000\n");
  EXPECT_EQ(limit("0::/kubepods/pod1/ctr\n", host_v2), 1);
  EXPECT_EQ(limit("0::/kubepods\n", host_v2), std::nullopt) << "quotas below do not count";
  // cgroup v1 bind-mounted into a container: the mount shows the container's own cgroup
  // (/docker/abc) at its point, and a process in a cgroup of its own below it.
  std::string container_v1 = "31 20 0:27 /docker/abc " + v1.string() +
                             " rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
                             "32 20 0:28 / /nowhere rw - cgroup cgroup rw,memory\n";
  write_file(v1 / "cpu.cfs_quota_us", "300000\n");
  write_file(v1 / "cpu.cfs_period_us", "100000\n");
  write_file(v1 / "job/cpu.cfs_quota_us", "100000\n");
  write_file(v1 / "job/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(limit("5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n", container_v1), 3);
  EXPECT_EQ(limit("4:cpuacct,cpu:/docker/abc/job\n", container_v1), 1);
  EXPECT_EQ(limit("4:cpu,cpuacct:/elsewhere\n", container_v1), 3) << "outside: the mount point";
  EXPECT_EQ(limit("4:cpu,cpuacct:/docker/abc/../x\n", container_v1), 3) << "no climbing out";
  write_file(v1 / "cpu.cfs_quota_us", "-1\n");
  EXPECT_EQ(limit("4:cpu,cpuacct:/docker/abc\n", container_v1), std::nullopt);
  EXPECT_EQ(limit("4:memory:/docker/abc/job\n", container_v1), std::nullopt) << "not cpu's";
  EXPECT_EQ(limit("", container_v1), std::nullopt);
  EXPECT_EQ(limit("0::relative/path\n", host_v2), std::nullopt) << "ends, reads the mount point";
}

TEST(UsableCpus, HugeQuotasAreManyCpusNotAnOverflow) {
  EXPECT_EQ(cpus_of_quota(4294967297000LL, 1000), 1 << 20);
  EXPECT_EQ(cpus_of_cgroup_v2("9223372036854775807 1000"), 1 << 20);
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
  struct RemoveAtTheEnd {  // whatever way the test ends
    fs::path group;
    ~RemoveAtTheEnd() {
      std::error_code error;
      if (!fs::remove(group, error) && error) ADD_FAILURE() << "left " << group << ": " << error;
    }
  } remove_at_the_end{group};
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
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == kNotMoved) GTEST_SKIP() << "could not move a process into " << group;
  EXPECT_EQ(WEXITSTATUS(status), 1) << "usable CPUs under a quota of one (in " << group << ")";
}

}  // namespace
}  // namespace msaas::common

// common/cpus.h: how many CPUs this process may really use: the ones its affinity allows, capped
// by its cgroup's CPU quota (a container's CPU limit: v2 `cpu.max`, or v1 `cpu.cfs_quota_us`). What
// "all cores" means for the engine's threads and the MP3 encoders.
// std::thread::hardware_concurrency() counts every CPU of the machine, so a pod limited to 2 CPUs
// on a 16-CPU node ran 16 threads that the quota then throttled.
#pragma once

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace msaas::common {

// The CPUs a quota of `quota` microseconds per `period` gives, rounded up (1.5 CPUs: 2 threads);
// none for no quota (a negative or zero quota, or a zero period).
inline std::optional<int> cpus_of_quota(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return std::nullopt;
  return static_cast<int>(std::max(1LL, (quota + period - 1) / period));
}

// cgroup v2's `cpu.max`: "QUOTA PERIOD", or "max PERIOD" for none.
inline std::optional<int> cpus_of_cgroup_v2(const std::string& cpu_max) {
  std::istringstream in(cpu_max);
  std::string quota;
  long long period = 0;
  if (!(in >> quota >> period) || quota == "max") return std::nullopt;
  try {
    return cpus_of_quota(std::stoll(quota), period);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The whole first line of a file; empty when it cannot be read.
inline std::string first_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The quota one cgroup folder states: v2's cpu.max, else v1's cfs files.
inline std::optional<int> cpus_of_cgroup_folder(const std::string& folder) {
  if (auto v2 = first_line_of(folder + "/cpu.max"); !v2.empty()) return cpus_of_cgroup_v2(v2);
  auto quota = first_line_of(folder + "/cpu.cfs_quota_us");
  auto period = first_line_of(folder + "/cpu.cfs_period_us");
  try {
    if (!quota.empty() && !period.empty())
      return cpus_of_quota(std::stoll(quota), std::stoll(period));
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

// The smallest quota on the way from this process's cgroup up to its hierarchy's root (a pod's
// quota may sit on a parent), as /proc/self/cgroup names it: "0::PATH" for v2 (mounted at
// /sys/fs/cgroup, or /sys/fs/cgroup/unified beside v1), "N:cpu,cpuacct:PATH" for v1. Folders
// that are not there are passed over: a container sees its own cgroup at the mount's root.
inline std::optional<int> cgroup_cpu_limit(const std::string& proc_cgroup = "/proc/self/cgroup",
                                           const std::string& mount = "/sys/fs/cgroup") {
  std::optional<int> limit;
  auto tighten = [&](std::optional<int> cpus) {
    if (cpus && (!limit || *cpus < *limit)) limit = cpus;
  };
  std::ifstream in(proc_cgroup);
  for (std::string line; std::getline(in, line);) {
    auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    std::vector<std::string> roots;
    if (controllers.empty()) {
      roots = {mount, mount + "/unified"};
    } else if (("," + controllers + ",").find(",cpu,") != std::string::npos) {
      roots = {mount + "/" + controllers, mount + "/cpu"};
    }
    for (const auto& root : roots) {
      for (std::string at = path;; at = at.substr(0, at.find_last_of('/'))) {
        tighten(cpus_of_cgroup_folder(root + at));
        if (at.empty() || at == "/") break;
      }
    }
  }
  return limit;
}

// At least 1.
inline int usable_cpus() {
  int cpus = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) cpus = CPU_COUNT(&allowed);
  if (auto limit = cgroup_cpu_limit()) cpus = std::min(cpus, *limit);
  return std::max(1, cpus);
}

}  // namespace msaas::common

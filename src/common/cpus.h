// common/cpus.h: how many CPUs this process may really use: the ones its affinity allows, capped
// by its cgroup's CPU quota (a container's CPU limit: v2 `cpu.max`, or v1 `cpu.cfs_quota_us`).
// What "all cores" means for the engine's threads and the MP3 encoders.
// std::thread::hardware_concurrency() counts every CPU of the machine, so a container limited to
// 2 CPUs on a 16-CPU node ran 16 threads that the quota then throttled.
#pragma once

#include <sched.h>

#include <algorithm>
#include <cstdlib>
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
  long long cpus = quota / period + (quota % period != 0);
  return static_cast<int>(std::clamp(cpus, 1LL, 1LL << 20));
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

// The quota one cgroup folder states: v2's cpu.max, or v1's cfs files.
inline std::optional<int> cpus_of_cgroup_folder(const std::string& folder, bool v2) {
  if (v2) return cpus_of_cgroup_v2(first_line_of(folder + "/cpu.max"));
  auto quota = first_line_of(folder + "/cpu.cfs_quota_us");
  auto period = first_line_of(folder + "/cpu.cfs_period_us");
  try {
    if (!quota.empty() && !period.empty())
      return cpus_of_quota(std::stoll(quota), std::stoll(period));
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

// A mounted cgroup hierarchy with the cpu controller (a line of /proc/self/mountinfo): the
// folder of the hierarchy its mount point shows (field 4: "/" on a host, the container's own
// cgroup where the host's hierarchy is bind-mounted into a container).
struct CgroupMount {
  std::string root, point;
  bool v2 = false;
};

inline std::vector<CgroupMount> cpu_cgroup_mounts(const std::string& mountinfo) {
  std::vector<CgroupMount> mounts;
  std::ifstream in(mountinfo);
  for (std::string line; std::getline(in, line);) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
    std::string id, parent, device, type, source, options;
    CgroupMount mount;
    if (!(head >> id >> parent >> device >> mount.root >> mount.point)) continue;
    if (!(tail >> type >> source >> options)) continue;
    mount.v2 = type == "cgroup2";
    bool v1_cpu = type == "cgroup" && ("," + options + ",").find(",cpu,") != std::string::npos;
    if (mount.v2 || v1_cpu) mounts.push_back(mount);
  }
  return mounts;
}

// Where a mount shows the cgroup at `path` (as /proc/self/cgroup names it), relative to its
// mount point: "" (the mount point itself) for a cgroup outside what the mount shows.
inline std::string folder_below(const CgroupMount& mount, const std::string& path) {
  if (path.find("/..") != std::string::npos) return "";
  if (mount.root == "/") return path.rfind('/', 0) == 0 ? path : "";
  if (path == mount.root || path.rfind(mount.root + "/", 0) == 0)
    return path.substr(mount.root.size());
  return "";
}

// The smallest quota on the way from this process's cgroup up to the top its mounts show (a
// pod's quota may sit on a parent). /proc/self/cgroup names the cgroup: "0::PATH" for v2,
// "N:cpu,cpuacct:PATH" for v1.
inline std::optional<int> cgroup_cpu_limit(const std::string& proc_cgroup = "/proc/self/cgroup",
                                           const std::string& mountinfo = "/proc/self/mountinfo") {
  auto mounts = cpu_cgroup_mounts(mountinfo);
  std::optional<int> limit;
  std::ifstream in(proc_cgroup);
  for (std::string line; std::getline(in, line);) {
    auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    bool v2 = controllers.empty();
    if (!v2 && ("," + controllers + ",").find(",cpu,") == std::string::npos) continue;
    for (const auto& mount : mounts) {
      if (mount.v2 != v2) continue;
      // The cgroup's folder, then each parent, then the mount point.
      for (std::string below = folder_below(mount, path);;) {
        auto cpus = cpus_of_cgroup_folder(mount.point + below, v2);
        if (cpus && (!limit || *cpus < *limit)) limit = cpus;
        auto slash = below.find_last_of('/');
        if (slash == std::string::npos) break;
        below.resize(slash);
      }
    }
  }
  return limit;
}

// OpenMP's thread binding (OMP_PROC_BIND, OMP_PLACES, GOMP_CPU_AFFINITY) pins the thread that
// loads libgomp to one place: that thread's affinity then no longer says what the process may use.
inline bool openmp_binds_threads() {
  const char* bind = std::getenv("OMP_PROC_BIND");
  return (bind && std::string(bind) != "false") || std::getenv("OMP_PLACES") ||
         std::getenv("GOMP_CPU_AFFINITY");
}

// At least 1.
inline int usable_cpus() {
  int cpus = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t allowed;
  if (!openmp_binds_threads() && sched_getaffinity(0, sizeof allowed, &allowed) == 0)
    cpus = CPU_COUNT(&allowed);
  if (auto limit = cgroup_cpu_limit()) cpus = std::min(cpus, *limit);
  return std::max(1, cpus);
}

}  // namespace msaas::common

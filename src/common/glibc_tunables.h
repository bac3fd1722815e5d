// common/glibc_tunables.h: reading and amending GLIBC_TUNABLES, glibc's own settings for its
// allocator and loader ("name=value" items joined by ':'), read once when a process starts; and
// the hand-over between the `msaas` launcher, which adds malloc's huge pages to it for msaas-cli
// alone, and msaas-cli, which gives the programs it starts the user's own value back.
#pragma once

#include <cstdlib>
#include <string>

namespace msaas::common {

// Where the launcher keeps the user's GLIBC_TUNABLES ("" for none) when it changed it.
constexpr const char* kUserTunablesVariable = "MSAAS_USER_GLIBC_TUNABLES";

// Whether `tunables` sets the tunable called `name` (its full name, e.g. glibc.malloc.hugetlb),
// to any value, even an empty one.
inline bool sets_tunable(const std::string& tunables, const std::string& name) {
  size_t start = 0;
  while (start <= tunables.size()) {
    size_t end = tunables.find(':', start);
    if (end == std::string::npos) end = tunables.size();
    if (end - start > name.size() && tunables.compare(start, name.size() + 1, name + "=") == 0)
      return true;
    start = end + 1;
  }
  return false;
}

// `tunables` with glibc.malloc.hugetlb=1 added (malloc then madvises its heap and its large
// blocks for transparent huge pages), unless it sets glibc.malloc.hugetlb already: the user's
// choice, either way, is kept.
inline std::string with_malloc_huge_pages(const std::string& tunables) {
  const std::string name = "glibc.malloc.hugetlb";
  if (sets_tunable(tunables, name)) return tunables;
  return tunables.empty() ? name + "=1" : tunables + ":" + name + "=1";
}

// Whether `tunables` sets either of the thresholds at which malloc maps blocks afresh or gives
// its heap's top back to the system.
inline bool sets_malloc_thresholds(const std::string& tunables) {
  return sets_tunable(tunables, "glibc.malloc.mmap_threshold") ||
         sets_tunable(tunables, "glibc.malloc.trim_threshold");
}

// In msaas-cli, before it starts anything: GLIBC_TUNABLES back to the user's own value where
// the launcher changed it (this process's allocator has read it already).
inline void restore_user_tunables() {
  const char* saved = std::getenv(kUserTunablesVariable);
  if (!saved) return;
  if (*saved)
    setenv("GLIBC_TUNABLES", saved, 1);
  else
    unsetenv("GLIBC_TUNABLES");
  unsetenv(kUserTunablesVariable);
}

}  // namespace msaas::common

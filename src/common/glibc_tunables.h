// common/glibc_tunables.h: reading and amending GLIBC_TUNABLES, glibc's own settings for its
// allocator and loader ("name=value" items joined by ':'), read once when a process starts.
#pragma once

#include <string>

namespace msaas::common {

// Whether `tunables` sets the tunable called `name` (its full name, e.g. glibc.malloc.hugetlb).
inline bool sets_tunable(const std::string& tunables, const std::string& name) {
  size_t start = 0;
  while (start <= tunables.size()) {
    size_t end = tunables.find(':', start);
    if (end == std::string::npos) end = tunables.size();
    std::string item = tunables.substr(start, end - start);
    if (item.size() > name.size() + 1 && item.compare(0, name.size() + 1, name + "=") == 0)
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

}  // namespace msaas::common

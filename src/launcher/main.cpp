// launcher/main.cpp: the `msaas` command. It only starts the real program, msaas-cli (in the same
// folder), with the same arguments, after asking glibc's malloc to put its memory on huge pages.
// That setting is read by the dynamic loader, so a process can only be given it before it starts;
// and it pays: Debian's libtorch grows malloc's heap by thousands of pages while its 289
// libraries load and its operator registry is built, each page a fault that some hypervisors make
// dear. With it, the command's start and model load take about a quarter less (docs/
// benchmarks.md, round 20). This program links nothing but the C and C++ runtimes, so it costs
// about a millisecond, and exec keeps the process: same pid, signals, exit status.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/glibc_tunables.h"

namespace {

// The program called `name` in this program's own folder.
std::string sibling_program(const char* name) {
  std::string self(4096, '\0');
  ssize_t size = readlink("/proc/self/exe", self.data(), self.size());
  if (size <= 0 || size_t(size) >= self.size()) return "";
  self.resize(size_t(size));
  return self.substr(0, self.rfind('/') + 1) + name;
}

}  // namespace

int main(int, char** argv) {
  std::string program = sibling_program("msaas-cli");
  if (program.empty()) {
    std::fprintf(stderr, "msaas: error: cannot find its own folder (/proc/self/exe): %s\n",
                 std::strerror(errno));
    return 127;
  }
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  std::string wanted = msaas::common::with_malloc_huge_pages(tunables ? tunables : "");
  if (setenv("GLIBC_TUNABLES", wanted.c_str(), 1) != 0) {
    std::fprintf(stderr, "msaas: error: cannot set GLIBC_TUNABLES: %s\n", std::strerror(errno));
    return 127;
  }
  execv(program.c_str(), argv);
  std::fprintf(stderr, "msaas: error: cannot start %s: %s\n", program.c_str(),
               std::strerror(errno));
  return 127;
}

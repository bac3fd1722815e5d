// launcher/main.cpp: the `msaas` command. It only starts the real program, msaas-cli (in the same
// folder: copy both, or link to this one), with the same arguments, after asking glibc's malloc
// to put its memory on transparent huge pages (glibc.malloc.hugetlb=1, glibc 2.35 and later).
// That setting is read when a process starts, so only a program that starts msaas-cli can give it;
// and it pays where the kernel's huge pages are on request (Debian's default, "madvise"): Debian's
// libtorch grows malloc's heap by thousands of pages while its 289 libraries load and its
// operator registry is built, each page a fault that some hypervisors make dear (0.07-0.24 s of
// a 10 s song's run in three interleaved A/B sets; docs/benchmarks.md, round 20). The user's own
// value is kept in MSAAS_USER_GLIBC_TUNABLES for msaas-cli to give back to the programs it starts
// (`msaas up`). This program links only the C and C++ runtimes, so it costs about a millisecond;
// exec keeps the process: its pid, its signals, its exit status. (To debug, run msaas-cli itself.)
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "common/glibc_tunables.h"
#include "common/program_folder.h"

int main(int, char** argv) {
  std::string program;
  try {
    program = msaas::common::program_folder() + "/msaas-cli";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "msaas: error: cannot find its own folder: %s\n", e.what());
    return 127;
  }
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  std::string user = tunables ? tunables : "";
  std::string wanted = msaas::common::with_malloc_huge_pages(user);
  // Saved only where changed; a value left over in the environment would be put back instead.
  bool set = wanted == user ? unsetenv(msaas::common::kUserTunablesVariable) == 0
                            : setenv(msaas::common::kUserTunablesVariable, user.c_str(), 1) == 0 &&
                                  setenv("GLIBC_TUNABLES", wanted.c_str(), 1) == 0;
  if (!set) {
    std::fprintf(stderr, "msaas: error: cannot set GLIBC_TUNABLES: %s\n", std::strerror(errno));
    return 1;
  }
  execv(program.c_str(), argv);
  int error = errno;
  std::fprintf(stderr, "msaas: error: cannot start %s: %s\n", program.c_str(),
               std::strerror(error));
  return error == ENOENT ? 127 : 126;  // the shell's codes: not found, found but not runnable
}

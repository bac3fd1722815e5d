// demucs/backend.cpp: which libraries and kernels do the engine's arithmetic here, and how they
// thread (msaas::compute_summary). OpenBLAS is asked through its own C entry points, looked up
// at run time, so any libblas.so.3 works.
#include "demucs/backend.h"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <dlfcn.h>
#include <torch/version.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "msaas/engine.h"

namespace msaas {
namespace demucs {

bool own_cpu_kernels_apply(const at::Tensor& t) {
  return t.is_cpu() && t.scalar_type() == at::kFloat && !at::autocast::is_cpu_enabled();
}

void prefer_avx512_kernels() {
  if (std::getenv("ATEN_CPU_CAPABILITY")) return;
#if defined(__GNUC__) && defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    setenv("ATEN_CPU_CAPABILITY", "avx512", 0);
#endif
}

int parallel_loop_threads() {
  std::atomic<int> most{0};
  at::parallel_for(0, 1024, 1, [&](int64_t, int64_t) {
    int seen = at::get_thread_num() + 1;
    int before = most.load();
    while (seen > before && !most.compare_exchange_weak(before, seen)) {
    }
  });
  return most.load();
}

}  // namespace demucs

namespace {

// As set for ATen, which reads it once, at its first operator.
std::string aten_kernels() {
  const char* chosen = std::getenv("ATEN_CPU_CAPABILITY");
  return chosen ? chosen : "libtorch's default";
}

}  // namespace

std::string compute_summary() {
  std::string out = "libtorch " + std::string(TORCH_VERSION) + ", " +
                    std::to_string(at::get_num_threads()) +
                    " threads, ATen kernels: " + aten_kernels();
  auto config = reinterpret_cast<const char* (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
  auto parallel = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
  if (!config || !parallel) return out + ", BLAS: not OpenBLAS";
  std::string blas = config();
  blas = blas.substr(0, blas.find(' ', blas.find(' ') + 1));  // "OpenBLAS 0.3.21"
  switch (parallel()) {
    case 0:
      return out + ", " + blas + " (single-threaded)";
    case 2:
      return out + ", " + blas + " (shares libtorch's OpenMP threads)";
    default:
      return out + ", " + blas +
             " (its own pthreads: slow, install the OpenMP build, see docs/benchmarks.md)";
  }
}

}  // namespace msaas

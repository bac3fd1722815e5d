// demucs/compute_summary.cpp: which libraries and kernels do the engine's arithmetic here, and how
// they thread (msaas::compute_summary, engine.h). OpenBLAS is asked through its own C entry
// points, looked up at run time, so any libblas.so.3 works.
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/version.h>

#include <cstdlib>
#include <string>

#include "msaas/engine.h"

namespace msaas {

namespace {

// One of OpenBLAS's own C entry points, or nullptr where the BLAS is another library.
template <typename Result>
auto openblas_function(const char* name) {
  return reinterpret_cast<Result (*)()>(dlsym(RTLD_DEFAULT, name));
}

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
  auto config = openblas_function<const char*>("openblas_get_config");
  auto parallel = openblas_function<int>("openblas_get_parallel");
  if (!config || !parallel) return out + ", BLAS: not OpenBLAS";
  std::string blas = config();
  blas = blas.substr(0, blas.find(' ', blas.find(' ') + 1));  // "OpenBLAS 0.3.21"
  auto corename = openblas_function<const char*>("openblas_get_corename");
  if (const char* core = corename ? corename() : nullptr)
    blas += " " + std::string(core) + " kernels";
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

// demucs/compute_summary.cpp: which libraries and kernels do the engine's arithmetic here, and how
// they thread (msaas::compute_summary, engine.h). OpenBLAS is asked through its own C entry
// points, looked up at run time, so any libblas.so.3 works.
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/version.h>

#include <cstdlib>
#include <string>

#include "demucs/int8_cpu.h"
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

// ", <the BLAS, its kernels and its threading>".
std::string blas_summary() {
  auto config = openblas_function<const char*>("openblas_get_config");
  auto parallel = openblas_function<int>("openblas_get_parallel");
  if (!config || !parallel) return ", BLAS: not OpenBLAS";
  std::string blas = config();
  blas = blas.substr(0, blas.find(' ', blas.find(' ') + 1));  // "OpenBLAS 0.3.21"
  auto corename = openblas_function<const char*>("openblas_get_corename");
  if (const char* core = corename ? corename() : nullptr)
    blas += " " + std::string(core) + " kernels";
  switch (parallel()) {
    case 0:
      return ", " + blas + " (single-threaded)";
    case 2:
      return ", " + blas + " (shares libtorch's OpenMP threads)";
    default:
      return ", " + blas +
             " (its own pthreads: slow, install the OpenMP build, see docs/benchmarks.md)";
  }
}

// Where fast mode's transformer takes int8 products (MSAAS_FAST_INT8=1), runs say so: their
// stems differ from the default's.
std::string int8_note() {
  return demucs::int8_products_preferred() ? "; fast mode's linear layers in int8 (MSAAS_FAST_INT8)"
                                           : "";
}

}  // namespace

std::string compute_summary() {
  return "libtorch " + std::string(TORCH_VERSION) + ", " + std::to_string(at::get_num_threads()) +
         " threads, ATen kernels: " + aten_kernels() + blas_summary() + int8_note();
}

}  // namespace msaas

// demucs/backend.cpp: see backend.h.
#include "demucs/backend.h"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>

#include <atomic>
#include <cstdlib>

namespace msaas::demucs {

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

}  // namespace msaas::demucs

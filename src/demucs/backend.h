// demucs/backend.h: choices about the CPU kernels libtorch runs, made before its first operator;
// where the engine's own CPU kernels apply, and a check on how they thread.
#pragma once

#include <ATen/core/Tensor.h>

namespace msaas::demucs {

// Where the engine's own float32 CPU kernels (conv_cpu.h, attention_cpu.h) take over from ATen:
// a float32 tensor on the CPU, with fast mode (autocast) off.
bool own_cpu_kernels_apply(const at::Tensor& t);

// libtorch 1.13 runs its element-wise kernels (softmax's exp, GELU, norms) in AVX2 unless told
// otherwise, because AVX-512 slowed some older Intel CPUs down. On this project's test machine
// (AMD Zen 4) the AVX-512 ones take 7 % off a segment, with the same stems to within 0.4 dB of
// 88-136 dB parity. Sets ATEN_CPU_CAPABILITY=avx512 where the CPU has AVX-512 (F, BW, VL, DQ)
// and the variable is not set already: ATEN_CPU_CAPABILITY=avx2 keeps the old kernels.
void prefer_avx512_kernels();

// How many threads an at::parallel_for in the engine's own files gets: at::get_num_threads()
// when they are built with OpenMP, 1 when not (the loop then silently runs on one thread).
int parallel_loop_threads();

}  // namespace msaas::demucs

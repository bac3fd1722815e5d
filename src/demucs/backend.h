// demucs/backend.h: choices about the CPU kernels libtorch runs, made before its first operator.
#pragma once

namespace msaas::demucs {

// libtorch 1.13 runs its element-wise kernels (softmax's exp, GELU, norms) in AVX2 unless told
// otherwise, because AVX-512 slowed some older Intel CPUs down. On this project's test machine
// (AMD Zen 4) the AVX-512 ones take 7 % off a segment, with the same stems to within 0.4 dB of
// 88-136 dB parity. Sets ATEN_CPU_CAPABILITY=avx512 where the CPU has AVX-512 (F, BW, VL, DQ)
// and the variable is not set already: ATEN_CPU_CAPABILITY=avx2 keeps the old kernels.
void prefer_avx512_kernels();

}  // namespace msaas::demucs

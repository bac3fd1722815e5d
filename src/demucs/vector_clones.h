// demucs/vector_clones.h: MSAAS_VECTOR_CLONES marks a hot loop to be compiled for AVX-512, AVX2
// and plain x86-64, the CPU picking one at load time: the engine is built for any x86-64, and
// these loops are too simple for ATen's vector classes to be worth their weight.
#pragma once

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define MSAAS_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MSAAS_VECTOR_CLONES
#endif

// demucs/attention_cpu.h: multi-head attention's core, softmax(q k^T) v, on the CPU a block of
// query rows at a time. Through ATen each head's (Tq, Tk) score matrix (29 MB for the spectral
// branch's 2688 tokens) makes several trips to memory and every product waits for both threads;
// here each thread takes whole blocks (scores, softmax, weighted values) while they sit in its
// cache. The official code's bmm, softmax, bmm, to rounding: the softmax uses its own exp and
// divides after the weighted values.
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace msaas::demucs {

// query: [B, Tq, C] (already scaled by 1 / sqrt(C / heads)), key and value: [B, Tk, C], any row
// stride (e.g. slices of one packed projection); head h is columns [h * d, (h + 1) * d),
// d = C / heads. Returns [B, Tq, C], the heads side by side as
// out_proj reads them. nullopt where the inputs are not float32 on the CPU, or autocast (fast
// mode) is on and not left out on this thread: ATen then runs it.
//
// bf16_products (fast mode): both products take bfloat16 factors with float32 sums, where the
// CPU has AVX-512 BF16 (bf16_cpu.h): queries times keys, then the softmax's weights times the
// values; elsewhere it changes nothing. (Autocast's bfloat16 products also round their outputs,
// the scores among them, which moved the weights enough to cost a stem 0.45 dB: docs/quality.md.)
// Float32 products (without it, or on a CPU with AVX-512 but not its BF16 extension) run on
// gemm_f32 (f32_cpu.h) where the CPU has AVX-512, else on OpenBLAS.
std::optional<at::Tensor> attention_cpu(const at::Tensor& query, const at::Tensor& key,
                                        const at::Tensor& value, int64_t heads,
                                        bool bf16_products = false);

}  // namespace msaas::demucs

// demucs/tensor_cache.h: where the engine's large CPU tensors live. A segment allocates the same
// tensors in the same sizes as the one before it. With plain malloc the big ones linger in
// malloc's arenas as fragments (about 350 MB of peak memory on htdemucs), or, past its mapping
// threshold, are mapped and unmapped each time (page faults). Here blocks of 1 MiB and more are
// mapped directly (huge pages where allowed) and, once freed, kept for the next tensor of the
// same size; smaller ones go to malloc as before. Kept blocks are forgotten (oldest first) only
// when a new mapping would take the total mapped (in use + kept) past the most ever in use at
// once plus a slack ($MSAAS_TENSOR_CACHE_MB, default 64): the memory peak stays the one the
// model needs, and from the second segment on nearly every block is reused instead of mapped
// and zeroed afresh (that cost a tenth of the CPU time).
#pragma once

namespace msaas::demucs {

// Installs the cache as libtorch's CPU allocator (once per process; later calls do nothing).
void install_tensor_cache();

}  // namespace msaas::demucs

// demucs/tensor_cache.h: where the engine's large CPU tensors live. A segment allocates the same
// tensors in the same sizes as the one before it, some 80 distinct sizes of 1 MiB and more. With
// plain malloc the big ones linger in malloc's arenas as fragments (about 350 MB of peak memory
// on htdemucs), or, past its mapping threshold, are mapped and unmapped each time: every page
// faulted and zeroed afresh (a tenth of the CPU time). Here blocks of 1 MiB and more come from
// one arena of address space (2 MiB pages where allowed), best-fit from its free ranges, which
// are merged when freed; freed memory stays mapped for the next segment, so after the first one
// nearly nothing is faulted again, and the resident size stays near the most ever in use at
// once. trim_tensor_cache() gives the unused part back (the engine calls it after each song).
// Smaller blocks go to malloc, told to keep its freed memory too until trim_tensor_cache().
#pragma once

namespace msaas::demucs {

// Installs the cache as libtorch's CPU allocator and sets malloc to keep freed memory (once per
// process; later calls do nothing).
void install_tensor_cache();

// Returns the arena's pages past its topmost block in use, and malloc's free memory, to the
// system.
void trim_tensor_cache();

}  // namespace msaas::demucs

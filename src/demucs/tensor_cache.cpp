// demucs/tensor_cache.cpp: see tensor_cache.h.
#include "demucs/tensor_cache.h"

#include <c10/core/CPUAllocator.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <set>
#include <unordered_map>
#include <utility>

#include "common/glibc_tunables.h"

namespace msaas::demucs {
namespace {

constexpr size_t kLarge = size_t(1) << 20;  // smaller blocks stay with malloc
constexpr size_t kGrain = size_t(1) << 16;  // block sizes are multiples of 64 KiB
constexpr size_t kHuge = size_t(1) << 21;   // the arena starts on a 2 MiB page

size_t round_up(size_t n, size_t to) {
  return (n + to - 1) / to * to;
}

// The arena's free ranges (offsets from its start), merged with their neighbours when freed and
// handed out best-fit.
class FreeRanges {
 public:
  static constexpr size_t npos = ~size_t(0);

  // The start of the smallest free range of at least `size`, its rest left free; or npos.
  size_t take(size_t size) {
    auto it = by_size_.lower_bound({size, 0});
    if (it == by_size_.end()) return npos;
    auto [length, offset] = *it;
    erase(offset, length);
    if (length > size) insert(offset + size, length - size);
    return offset;
  }

  // Frees [offset, offset + length), merged with the free ranges it touches; returns the result.
  std::pair<size_t, size_t> add(size_t offset, size_t length) {
    auto next = by_offset_.find(offset + length);
    if (next != by_offset_.end()) {
      length += next->second;
      erase(next->first, next->second);
    }
    auto prev = by_offset_.lower_bound(offset);
    if (prev != by_offset_.begin() && std::prev(prev)->first + std::prev(prev)->second == offset) {
      --prev;
      offset = prev->first, length += prev->second;
      erase(prev->first, prev->second);
    }
    insert(offset, length);
    return {offset, length};
  }

  void erase(size_t offset, size_t length) {
    by_offset_.erase(offset);
    by_size_.erase({length, offset});
  }

 private:
  void insert(size_t offset, size_t length) {
    by_offset_.emplace(offset, length);
    by_size_.emplace(length, offset);
  }
  std::map<size_t, size_t> by_offset_;           // offset -> length
  std::set<std::pair<size_t, size_t>> by_size_;  // (length, offset)
};

class TensorCache final : public c10::Allocator {
 public:
  explicit TensorCache(c10::Allocator* fallback) : fallback_(fallback) {
    // Address space only: pages are backed when first touched.
    capacity_ = size_t(sysconf(_SC_PHYS_PAGES)) * size_t(sysconf(_SC_PAGESIZE));
    void* area = mmap(nullptr, capacity_ + kHuge, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (area == MAP_FAILED) {
      capacity_ = 0;
      return;
    }
    base_ = reinterpret_cast<char*>(round_up(reinterpret_cast<size_t>(area), kHuge));
    // 2 MiB pages where the kernel allows them: one fault per 2 MiB instead of one per 4 KiB.
    madvise(base_, capacity_, MADV_HUGEPAGE);
  }

  c10::DataPtr allocate(size_t n) const override {
    if (n < kLarge) return fallback_->allocate(n);
    size_t size = round_up(n, kGrain);
    std::lock_guard lock(mutex_);
    void* data = carve(size);
    if (!data) {  // the arena is full: a mapping of its own
      data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (data == MAP_FAILED) throw std::bad_alloc();
    }
    in_use_[data] = size;
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  // libtorch also frees some blocks by their address alone (raw_deallocate).
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  static TensorCache* instance;

  // Gives the pages past the topmost block in use back to the system.
  void trim() const {
    std::lock_guard lock(mutex_);
    size_t keep = round_up(top_, kHuge);
    if (keep < resident_) madvise(base_ + keep, resident_ - keep, MADV_DONTNEED);
    resident_ = std::min(resident_, keep);
  }

 private:
  // A block of `size` from the arena: the best-fitting free range, else the arena's end;
  // nullptr when it does not fit.
  void* carve(size_t size) const {
    size_t offset = free_.take(size);
    if (offset != FreeRanges::npos) return base_ + offset;
    if (top_ + size > capacity_) return nullptr;
    offset = top_;
    top_ += size;
    resident_ = std::max(resident_, top_);
    return base_ + offset;
  }

  // Small blocks go back to malloc's allocator. A large block goes back to the arena, merged
  // with its free neighbours, and stays mapped for the next blocks (until trim()).
  static void release(void* data) {
    TensorCache& self = *instance;
    std::lock_guard lock(self.mutex_);
    auto it = self.in_use_.find(data);
    if (it == self.in_use_.end()) {
      self.fallback_->raw_deleter()(data);
      return;
    }
    size_t size = it->second;
    self.in_use_.erase(it);
    char* p = static_cast<char*>(data);
    if (p < self.base_ || p >= self.base_ + self.capacity_) {
      munmap(data, size);
      return;
    }
    auto [offset, length] = self.free_.add(p - self.base_, size);
    if (offset + length == self.top_) {  // the topmost range is free: the arena ends below it
      self.free_.erase(offset, length);
      self.top_ = offset;
    }
  }

  c10::Allocator* fallback_;
  char* base_ = nullptr;
  size_t capacity_ = 0;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, size_t> in_use_;  // large blocks handed out
  mutable FreeRanges free_;                           // free ranges, all below top_
  mutable size_t top_ = 0;                            // the end of the topmost block in use
  mutable size_t resident_ = 0;                       // pages below it may be backed
};

TensorCache* TensorCache::instance = nullptr;

// The engine's own scratch (its kernels' std::vector buffers, a few MB each, made and freed on
// every call) and libtorch's blocks under 1 MiB come from malloc. By default glibc maps blocks
// past a threshold (dynamic, up to 32 MiB) afresh and unmaps them when freed, and gives the
// heap's free top back to the system once it passes another (128 KiB at first): either way the
// next call's pages are faulted and zeroed again (about 6,000 faults of 35,000 in a fast run of
// a 21 s song; docs/benchmarks.md, point 29). Here both thresholds go to mallopt's documented
// maximum, 32 MiB, so freed memory stays with the process until the song ends
// (trim_tensor_cache). Thresholds the user set (MALLOC_*_ or GLIBC_TUNABLES) are left alone;
// other tunables, like the huge pages `msaas` asks for, are not a reason to.
void keep_malloc_memory_between_calls() {
#if defined(__GLIBC__)
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"})
    if (std::getenv(name)) return;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables && common::sets_malloc_thresholds(tunables)) return;
  constexpr int kThreshold = 32 << 20;
  // The trim threshold only where the mapping one was taken: alone, it would freeze the mapping
  // threshold at 128 KiB, worse than glibc's default.
  if (mallopt(M_MMAP_THRESHOLD, kThreshold) == 1) mallopt(M_TRIM_THRESHOLD, kThreshold);
#endif
}

}  // namespace

void install_tensor_cache() {
  static std::once_flag once;
  std::call_once(once, [] {
    keep_malloc_memory_between_calls();
    // Never destroyed: tensors may outlive every other object.
    TensorCache::instance = new TensorCache(c10::GetCPUAllocator());
    c10::SetCPUAllocator(TensorCache::instance, /*priority=*/1);
  });
}

void trim_tensor_cache() {
  if (TensorCache::instance) TensorCache::instance->trim();
#if defined(__GLIBC__)
  malloc_trim(0);  // and malloc's free memory, kept during the song
#endif
}

}  // namespace msaas::demucs

// demucs/tensor_cache.cpp: see tensor_cache.h.
#include "demucs/tensor_cache.h"

#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>

#include <cstdlib>
#include <list>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace msaas::demucs {
namespace {

constexpr size_t kLarge = size_t(1) << 20;  // smaller blocks stay with malloc
constexpr size_t kGrain = size_t(1) << 16;  // block sizes are rounded to 64 KiB

class TensorCache final : public c10::Allocator {
 public:
  TensorCache(c10::Allocator* fallback, size_t limit) : fallback_(fallback), limit_(limit) {}

  c10::DataPtr allocate(size_t n) const override {
    if (n < kLarge) return fallback_->allocate(n);
    size_t size = (n + kGrain - 1) / kGrain * kGrain;
    std::lock_guard lock(mutex_);
    void* data = nullptr;
    auto it = by_size_.find(size);
    std::vector<Kept> unmap;
    if (it != by_size_.end()) {
      data = it->second->data;
      kept_.erase(it->second);
      by_size_.erase(it);
      cached_ -= size;
    } else {
      // A new mapping: forget kept blocks until mapped memory stays within the bound.
      peak_in_use_ = std::max(peak_in_use_, in_use_bytes_ + size);
      while (!kept_.empty() && in_use_bytes_ + size + cached_ > bound())
        unmap.push_back(forget_oldest());
      data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (data == MAP_FAILED) throw std::bad_alloc();
      // 2 MiB pages where the kernel allows them: a fresh block costs one fault per 2 MiB
      // instead of one per 4 KiB.
      madvise(data, size, MADV_HUGEPAGE);
    }
    in_use_[data] = size;
    in_use_bytes_ += size;
    for (const auto& k : unmap) munmap(k.data, k.size);
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  // libtorch also frees some blocks by their address alone (raw_deallocate).
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  static TensorCache* instance;

 private:
  struct Kept {
    void* data;
    size_t size;
  };

  // A large block is kept for the next tensor of its size; small ones go back to malloc's
  // allocator. Blocks kept longest are forgotten when a new mapping would take the mapped total
  // (in use + kept) past the bound.
  static void release(void* data) {
    TensorCache& self = *instance;
    std::lock_guard lock(self.mutex_);
    auto it = self.in_use_.find(data);
    if (it == self.in_use_.end()) {
      self.fallback_->raw_deleter()(data);
      return;
    }
    Kept block{data, it->second};
    self.in_use_.erase(it);
    self.in_use_bytes_ -= block.size;
    self.kept_.push_back(block);
    self.by_size_.emplace(block.size, std::prev(self.kept_.end()));
    self.cached_ += block.size;
  }

  // The most ever in use at once plus the slack: the memory peak a cache-less allocator would
  // reach anyway (plus the slack), so keeping blocks up to it costs no extra peak memory.
  size_t bound() const { return peak_in_use_ + limit_; }

  Kept forget_oldest() const {
    Kept old = kept_.front();
    auto [from, to] = by_size_.equal_range(old.size);
    for (auto it = from; it != to; ++it)
      if (it->second == kept_.begin()) {
        by_size_.erase(it);
        break;
      }
    kept_.pop_front();
    cached_ -= old.size;
    return old;
  }

  c10::Allocator* fallback_;
  size_t limit_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, size_t> in_use_;  // large blocks handed out
  mutable std::list<Kept> kept_;                      // large blocks kept, oldest first
  mutable std::multimap<size_t, std::list<Kept>::iterator> by_size_;
  mutable size_t cached_ = 0, in_use_bytes_ = 0, peak_in_use_ = 0;
};

TensorCache* TensorCache::instance = nullptr;

}  // namespace

void install_tensor_cache() {
  static std::once_flag once;
  std::call_once(once, [] {
    size_t limit_mb = 64;
    if (const char* v = std::getenv("MSAAS_TENSOR_CACHE_MB"))
      limit_mb = std::strtoull(v, nullptr, 10);
    // Never destroyed: tensors may outlive every other object.
    TensorCache::instance = new TensorCache(c10::GetCPUAllocator(), limit_mb << 20);
    c10::SetCPUAllocator(TensorCache::instance, /*priority=*/1);
  });
}

}  // namespace msaas::demucs

// demucs/unfilled_buffer.h: an array whose elements start undefined, for layouts that the
// threads fill whole. std::vector zeroes what it allocates on the calling thread, a serial pass
// over megabytes while the other threads wait; here the only writes are the parallel loop's.
// The kernels' tests run with MALLOC_PERTURB_ set, so that a read of an unwritten element shows.
#pragma once

#include <cstdint>
#include <memory>

namespace msaas::demucs {

template <class T>
class UnfilledBuffer {
 public:
  UnfilledBuffer() = default;
  explicit UnfilledBuffer(int64_t size) { allocate(size); }

  // Drops the old contents; the new elements are undefined until written.
  void allocate(int64_t size) {
    values_ = std::make_unique_for_overwrite<T[]>(static_cast<size_t>(size));
    size_ = size;
  }
  T* data() { return values_.get(); }
  const T* data() const { return values_.get(); }
  int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  std::unique_ptr<T[]> values_;
  int64_t size_ = 0;
};

}  // namespace msaas::demucs

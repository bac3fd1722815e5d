// demucs/parallel_items.h: the engine's own kernels' work items shared over the threads as they
// go. at::parallel_for cuts a range into one fixed share per thread, so a thread whose share
// is heavier, or whose core the hypervisor takes for a while, leaves the other spinning at the
// end: in fast mode a sixth (16 %) of the second thread's samples were that wait
// (docs/benchmarks.md, point 28). Here each thread takes the next item when it finishes one.
// Which items a thread runs changes from run to run, so an item's result must depend on nothing
// per thread: like at::parallel_for's workers, the other threads do not share the caller's
// thread-local settings (autocast, InferenceMode), so work bodies must not rely on them.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace msaas::demucs {

// For work that needs no scratch of its own.
struct NoState {};

// Calls work(state, item) for every item in [0, items), on at::parallel_for's threads; each
// thread makes one State (its scratch) and keeps it for all its items. Items must not depend on
// each other or on which thread runs them. Inside another parallel region it runs them all on
// the calling thread, as at::parallel_for does.
template <class State, class Work>
void parallel_items(int64_t items, Work&& work) {
  if (items <= 0) return;
  std::atomic<int64_t> next{0};
  int64_t threads = std::min<int64_t>(items, at::get_num_threads());
  at::parallel_for(0, threads, 1, [&](int64_t, int64_t) {
    State state;
    for (int64_t item = next++; item < items; item = next++) work(state, item);
  });
}

}  // namespace msaas::demucs

// audio/stem_spool.cpp: see stem_spool.h.
#include "audio/stem_spool.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <system_error>

#include "audio/spool_file.h"
#include "common/cpus.h"

namespace msaas::audio {
namespace fs = std::filesystem;

struct StemSpool::Stem {
  size_t index = 0;
  fs::path final_path, spool_path;
  int fd = -1;     // closed only with the Stem: an abandoned background block may still read it
  float peak = 0;  // of every frame written
  size_t pieces = 0;
  int64_t frames_written = 0;
  std::atomic<int64_t> frames_encoded{0};  // read by frames_encoded() without the lock
  // Held here between blocks; a background encoder takes it for its block and gives it back.
  std::unique_ptr<Encoder> encoder;
  bool busy = false;               // a background encoder has it
  bool taken = false;              // by an encode_all() thread
  bool abandoned = false;          // taken while busy: the background block's work is dropped
  bool background_failed = false;  // encode_all() starts it again (and meets the error itself)

  ~Stem() {
    encoder.reset();  // removes its unfinished temporary file
    if (fd >= 0) close(fd);
    remove_spool_file();
  }
  void remove_spool_file() {
    std::error_code ec;
    if (!spool_path.empty()) fs::remove(spool_path, ec);
  }
};

struct StemSpool::Range {
  int64_t first = 0, frames = 0;              // the stem's frames [first, first + frames)
  int64_t piece_start = 0, piece_frames = 0;  // the appended piece that holds them
};

struct StemSpool::Claim {
  Stem* stem;
  Range range;
};

namespace {

// Frames a background encoder takes at a time: one MP3 frame, well under a millisecond of LAME,
// so that even starved by other work at idle priority it soon lets go of its stem.
constexpr int64_t kBackgroundBlock = 1152;
// Frames encode_all() encodes at a time.
constexpr int64_t kBlock = 44100;
// How long encode_all() waits for a background encoder to let go of a stem before it starts
// that stem again from the beginning with an encoder of its own.
constexpr auto kTakeOverWait = std::chrono::milliseconds(20);

}  // namespace

StemSpool::StemSpool(std::vector<fs::path> paths, int channels, StemEncoding encoding)
    : encoding_(encoding), channels_(channels) {
  if (encoding_.threads <= 0) encoding_.threads = common::usable_cpus();
  for (const auto& path : paths) {
    auto s = std::make_unique<Stem>();
    s->index = stems_.size();
    s->final_path = path;
    fs::create_directories(path.parent_path());
    s->spool_path = path.parent_path() /
                    ("." + path.filename().string() + ".spool-" + std::to_string(getpid()));
    s->fd = open(s->spool_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (s->fd < 0) throw std::runtime_error("cannot write " + s->spool_path.string());
    stems_.push_back(std::move(s));
  }
  if (!encoding_.in_background) return;
  // No more than one per stem: a stem is encoded by one thread at a time.
  size_t count = std::min(stems_.size(), static_cast<size_t>(encoding_.threads));
  background_.reserve(count);
  for (size_t t = 0; t < count; ++t) {
    try {
      background_.emplace_back(&StemSpool::encode_in_background, this);
    } catch (...) {
      break;  // no thread to be had: encode_all() does the rest
    }
  }
}

StemSpool::~StemSpool() {
  request_stop();
  for (auto& t : background_) t.join();
}

void StemSpool::append(size_t index, const float* planar, int64_t frames) {
  Stem& s = *stems_.at(index);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (s.pieces == piece_frames_.size()) {  // the first stem to reach a new piece records it
      piece_start_.push_back(piece_start_.empty() ? 0 : piece_start_.back() + piece_frames_.back());
      piece_frames_.push_back(frames);
    } else if (piece_frames_[s.pieces] != frames) {
      throw std::invalid_argument("stem " + std::to_string(index) + " got a piece of " +
                                  std::to_string(frames) + " frames where another stem got " +
                                  std::to_string(piece_frames_[s.pieces]));
    }
    ++s.pieces;
  }
  float peak = peak_magnitude(planar, static_cast<size_t>(channels_ * frames));
  write_all(s.fd, reinterpret_cast<const char*>(planar), channels_ * frames * sizeof(float),
            "cannot write " + s.spool_path.string());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    s.frames_written += frames;
    s.peak = std::max(s.peak, peak);
  }
  changed_.notify_all();
}

int64_t StemSpool::frames_encoded(size_t index) const {
  return stems_.at(index)->frames_encoded;
}

// The next run of stem `s` to encode: at most `block` frames, inside one piece, before `limit`.
// Called with mutex_ held, or once appending is over (the table no longer changes).
StemSpool::Range StemSpool::range_from(const Stem& s, int64_t limit, int64_t block) const {
  int64_t first = s.frames_encoded;
  auto after = std::upper_bound(piece_start_.begin(), piece_start_.end(), first);
  size_t piece = static_cast<size_t>(after - piece_start_.begin()) - 1;
  Range r;
  r.first = first;
  r.piece_start = piece_start_[piece];
  r.piece_frames = piece_frames_[piece];
  r.frames = std::min({r.piece_start + r.piece_frames, limit, first + block}) - first;
  return r;
}

void StemSpool::start_encoder(const Stem& s, std::unique_ptr<Encoder>& encoder) const {
  if (!encoder)
    encoder = std::make_unique<Encoder>(s.final_path.string(), encoding_.sample_rate, channels_,
                                        encoding_.format);
}

void StemSpool::encode_range(const Stem& s, const Range& range, float divisor, Encoder& encoder,
                             std::vector<float>& block) const {
  block.resize(channels_ * range.frames);
  for (int c = 0; c < channels_; ++c) {  // a piece lies channel after channel in the file
    int64_t at =
        channels_ * range.piece_start + c * range.piece_frames + (range.first - range.piece_start);
    read_all_at(s.fd, reinterpret_cast<char*>(block.data() + c * range.frames),
                range.frames * sizeof(float), static_cast<off_t>(at * sizeof(float)),
                "cannot read back " + s.spool_path.string());
  }
  apply_clip(block.data(), block.size(), encoding_.clip, divisor);
  encoder.write(block.data(), range.frames, range.frames);
}

// The least advanced stem with frames waiting whose early work can stand (no rescaling so far).
// Called with mutex_ held.
std::optional<StemSpool::Claim> StemSpool::claim_for_background() {
  Stem* best = nullptr;
  for (auto& s : stems_) {
    if (s->busy || s->background_failed || s->frames_encoded >= s->frames_written) continue;
    if (clip_divisor(encoding_.clip, s->peak) != 1.0f) continue;
    if (!best || s->frames_encoded < best->frames_encoded) best = s.get();
  }
  if (!best) return std::nullopt;
  best->busy = true;
  return Claim{best, range_from(*best, best->frames_written, kBackgroundBlock)};
}

void StemSpool::encode_in_background() {
  // Idle priority or nothing: at normal priority this thread would take cores from separation.
  sched_param none{};
  if (encoding_.idle_priority && pthread_setschedparam(pthread_self(), SCHED_IDLE, &none) != 0)
    return;
  std::vector<float> block;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    auto claim = claim_for_background();
    if (!claim) {
      changed_.wait(lock);
      continue;
    }
    Stem& s = *claim->stem;
    std::unique_ptr<Encoder> encoder = std::move(s.encoder);
    lock.unlock();
    bool ok = true;
    try {
      start_encoder(s, encoder);
      encode_range(s, claim->range, 1.0f, *encoder, block);
    } catch (...) {
      ok = false;
    }
    lock.lock();
    if (!s.abandoned) s.busy = false;  // else encode_all() has it now
    if (ok && !s.abandoned) {
      s.encoder = std::move(encoder);
      s.frames_encoded += claim->range.frames;
    } else if (!ok && !s.abandoned) {
      s.frames_encoded = 0;
      s.background_failed = true;
    }
    lock.unlock();
    encoder.reset();        // a dropped one removes its temporary file; outside the lock
    changed_.notify_all();  // encode_all() may be waiting for this stem
    lock.lock();
  }
}

bool StemSpool::request_stop() {
  bool already;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    already = stopping_;
    stopping_ = true;
  }
  changed_.notify_all();
  return already;
}

// The stem encode_all() should do next: the first in `order` that nobody has. When background
// encoders hold all that are left, it waits for one to let go; past kTakeOverWait (they can be
// starved at idle priority) it takes a held stem anyway and starts it again from the beginning.
// nullptr: all done.
StemSpool::Stem* StemSpool::take_for_end(const std::vector<size_t>& order) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto deadline = std::chrono::steady_clock::now() + kTakeOverWait;
  for (;;) {
    Stem* held = nullptr;
    for (size_t i : order) {
      Stem& s = *stems_[i];
      if (s.taken) continue;
      if (!s.busy) {
        s.taken = s.busy = true;
        return &s;
      }
      if (!held) held = &s;
    }
    if (!held) return nullptr;
    // Decided on what was just seen: during the wait another thread may have taken it.
    if (std::chrono::steady_clock::now() >= deadline) {
      held->taken = held->abandoned = true;  // its background block will be thrown away
      held->frames_encoded = 0;  // its encoder is with that block: this one starts afresh
      return held;
    }
    changed_.wait_until(lock, deadline);
  }
}

// Stems with the most left to encode first, so the last one to finish is a short one.
std::vector<size_t> StemSpool::most_work_left_first() const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto left = [&](size_t i) {
    const Stem& s = *stems_[i];
    bool void_work = clip_divisor(encoding_.clip, s.peak) != 1.0f;
    return s.frames_written - (void_work ? 0 : s.frames_encoded.load());
  };
  std::vector<size_t> order(stems_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return left(a) > left(b); });
  return order;
}

// Appending is over and this thread owns `s`: its peak and the pieces no longer change, so the
// blocks go without the lock (a background encoder holding it can be slow to let go).
void StemSpool::finish_stem(Stem& s, std::vector<float>& block) {
  float divisor = clip_divisor(encoding_.clip, s.peak);
  if (divisor != 1.0f && s.frames_encoded > 0) {  // rescaling after all: the early work is void
    s.encoder.reset();
    s.frames_encoded = 0;
  }
  start_encoder(s, s.encoder);  // an empty stem still gets its (empty) file
  while (s.frames_encoded < s.frames_written) {
    Range range = range_from(s, s.frames_written, kBlock);
    encode_range(s, range, divisor, *s.encoder, block);
    s.frames_encoded += range.frames;
  }
  s.encoder->finish();
  s.remove_spool_file();
}

void StemSpool::encode_all() {
  // The background encoders finish the block they hold and stop.
  if (request_stop()) throw std::logic_error("StemSpool::encode_all() runs once");
  auto order = most_work_left_first();
  size_t workers = std::min(stems_.size(), static_cast<size_t>(encoding_.threads));
  std::vector<std::exception_ptr> errors(stems_.size());
  auto work = [&] {
    std::vector<float> block;
    while (Stem* s = take_for_end(order)) {
      try {
        finish_stem(*s, block);
      } catch (...) {
        errors[s->index] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  helpers.reserve(workers);  // no reallocation (and no throw) with threads running
  for (size_t w = 1; w < workers; ++w) {
    try {
      helpers.emplace_back(work);
    } catch (...) {
      break;  // no more threads to be had: the ones running (and this one) do the rest
    }
  }
  work();
  for (auto& h : helpers) h.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace msaas::audio

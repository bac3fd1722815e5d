// worker/live_parts.cpp: see live_parts.h.
#include "worker/live_parts.h"

#include <fstream>

#include "audio/encode.h"
#include "queue/jobs.h"
#include "service/log.h"

namespace msaas::worker {

namespace fs = std::filesystem;

namespace {

// A part not stored within this long counts as trash (a worker that died mid-job).
constexpr long long kPartHoldSeconds = 6 * 3600;

}  // namespace

LiveParts::LiveParts(Target target, std::string job_id, long long run, double part_seconds,
                     fs::path folder)
    : target_(std::move(target)),
      job_id_(std::move(job_id)),
      part_seconds_(part_seconds),
      folder_(std::move(folder)) {
  live_.run = run;
  uploader_ = std::thread([this] { upload_loop(); });
}

LiveParts::~LiveParts() {
  stop();
}

void LiveParts::stop() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    closing_flag_ = true;  // cuts a transfer in progress short
    queued_.clear();
  }
  wake_.notify_all();
  if (uploader_.joinable()) uploader_.join();
}

void LiveParts::begin(const std::vector<std::string>& stems, int sample_rate, int channels,
                      int64_t frames) {
  live_.stems = stems;
  live_.sample_rate = sample_rate;
  live_.channels = channels;
  live_.frames = frames;
  pending_.assign(stems.size(), {});
  std::error_code error;
  for (const auto& stem : stems) fs::create_directories(folder_ / stem, error);
  if (error) {
    service::log_warning("job " + job_id_ + ": no live parts: " + error.message());
    std::lock_guard lock(mutex_);
    failed_ = true;
    return;
  }
  {
    std::lock_guard lock(mutex_);
    queued_.emplace_back(-1, 0);  // the shape alone: the API can answer with a stream's length
  }
  wake_.notify_all();
}

void LiveParts::stretch(size_t stem, const float* planar, int64_t frames) {
  if (failed()) return;  // listening stopped: the job goes on without it
  auto& out = pending_[stem];
  size_t start = out.size();
  out.resize(start + frames * live_.channels);
  for (int64_t i = 0; i < frames; ++i)
    for (int c = 0; c < live_.channels; ++c)
      out[start + i * live_.channels + c] = audio::int16_sample(planar[c * frames + i]);
  if (stem == 0) pending_frames_ += frames;
}

void LiveParts::stretch_end() {
  if (failed()) return;
  if (pending_frames_ >= static_cast<int64_t>(part_seconds_ * live_.sample_rate)) cut_part();
}

void LiveParts::end() {
  if (pending_frames_ > 0 && !failed()) cut_part();
  std::unique_lock lock(mutex_);
  wake_.wait(lock, [this] { return (queued_.empty() && !busy_) || failed_; });
}

// Writes the pending samples of every stem to local files and queues them for the uploader. A
// file that cannot be written (a full disk) stops listening, not the job.
void LiveParts::cut_part() {
  int n = parts_cut_++;
  for (size_t s = 0; s < pending_.size(); ++s) {
    fs::path path = folder_ / live_.stems[s] / (std::to_string(n) + ".pcm");
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(pending_[s].data()),
               static_cast<std::streamsize>(pending_[s].size() * sizeof(int16_t)));
    pending_[s].clear();
    if (!file) {
      service::log_warning("job " + job_id_ + ": live parts stopped: cannot write " +
                           path.string());
      std::lock_guard lock(mutex_);
      failed_ = true;
      return;
    }
  }
  {
    std::lock_guard lock(mutex_);
    queued_.emplace_back(n, pending_frames_);
  }
  pending_frames_ = 0;
  wake_.notify_all();
}

void LiveParts::upload_loop() {
  for (;;) {
    std::pair<int, int64_t> next;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return closing_ || !queued_.empty(); });
      if (closing_ || failed_) return;
      next = queued_.front();
      queued_.pop_front();
      busy_ = true;
    }
    try {
      if (next.first >= 0)
        with_one_retry([&] { store_part(next.first, next.second); });
      else
        with_one_retry([&] { record(); });
    } catch (const std::exception& e) {
      service::log_warning("job " + job_id_ + ": live parts stopped: " + e.what());
      std::lock_guard lock(mutex_);
      failed_ = true;
    }
    {
      std::lock_guard lock(mutex_);
      busy_ = false;
    }
    wake_.notify_all();
  }
}

// A storage or Redis call that failed once is tried again a second later (a blip); a second
// failure stops listening for this run.
void LiveParts::with_one_retry(const std::function<void()>& step) {
  try {
    step();
  } catch (const Lost&) {
    throw;
  } catch (const std::exception& e) {
    service::log_warning("job " + job_id_ + ": live part: " + e.what() + "; trying again");
    std::this_thread::sleep_for(std::chrono::seconds(1));
    step();
  }
}

void LiveParts::record() {
  if (!target_.record(live_)) throw Lost();
}

// Stores part n of every stem (held as trash first, so a crash cannot orphan it), then records
// it: a listener never sees a part before all of it is stored.
void LiveParts::store_part(int n, int64_t frames) {
  storage::TransferLimit limit(60, &closing_flag_);
  for (const auto& stem : live_.stems) {
    std::string key = live_.part_key(job_id_, stem, n);
    target_.trash.hold(queue::FileKind::output, key, queue::now_seconds() + kPartHoldSeconds);
    {
      std::lock_guard lock(mutex_);
      members_.push_back(queue::trash_member(queue::FileKind::output, key));
    }
    fs::path path = folder_ / stem / (std::to_string(n) + ".pcm");
    target_.storage.put_file(target_.bucket, key, path.string(), "application/octet-stream");
  }
  queue::LiveStems next = live_;
  next.parts = n + 1;
  next.frames_ready += frames;
  if (!target_.record(next)) throw Lost();
  // Only now: a retry after a failed record stores the part again from these files.
  for (const auto& stem : live_.stems) fs::remove(folder_ / stem / (std::to_string(n) + ".pcm"));
  // Only these two: the separating thread reads the others (written once, in begin()).
  live_.parts = next.parts;
  live_.frames_ready = next.frames_ready;
}

std::vector<std::string> LiveParts::trash_members() const {
  std::lock_guard lock(mutex_);
  return members_;
}

bool LiveParts::failed() const {
  std::lock_guard lock(mutex_);
  return failed_;
}

}  // namespace msaas::worker

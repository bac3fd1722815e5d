// worker/live_parts.h: listening while it separates. As each stretch of the output stems leaves
// the engine, it is written out as parts (one object per stem per stretch of at least a few
// seconds, 16-bit PCM) under the run's prefix in the `output` bucket, and the job's record says
// how many parts and frames are final (queue::LiveStems), so the API can stream a stem while the
// rest is still being separated. Uploads run on their own thread: separation never waits for
// storage. Each part is a whole object (put as a file, never appended to), held as trash until
// the job ends: a run that is cancelled, handed back or dies leaves nothing half-written and
// nothing for ever.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "queue/job_record.h"
#include "queue/trash.h"
#include "storage/storage.h"
#include "worker/separate_job.h"

namespace msaas::worker {

class LiveParts : public StemListener {
 public:
  struct Target {
    storage::Storage& storage;
    std::string bucket;  // the `output` bucket
    queue::Trash& trash;
    // Writes the record's `live` field; false when the run no longer owns the job.
    std::function<bool(const queue::LiveStems&)> record;
  };
  // Parts of at least `part_seconds` (the last may be shorter), written first into `folder`.
  LiveParts(Target target, std::string job_id, long long run, double part_seconds,
            std::filesystem::path folder);
  ~LiveParts() override;  // stop()s
  // Stops the uploader: what is queued is dropped, a part being stored is finished first.
  void stop();
  LiveParts(const LiveParts&) = delete;
  LiveParts& operator=(const LiveParts&) = delete;

  void begin(const std::vector<std::string>& stems, int sample_rate, int channels,
             int64_t frames) override;
  void stretch(size_t stem, const float* planar, int64_t frames) override;
  void stretch_end() override;
  // Publishes the rest and waits until every part is stored and recorded.
  void end() override;

  // The trash members of every part stored or being stored: made due when the run gives up,
  // given a little time when the job is done (listeners may still be reading).
  std::vector<std::string> trash_members() const;
  // Parts the uploader could not store (the job goes on; listening stops there).
  bool failed() const;

 private:
  // The run no longer owns the job.
  struct Lost : std::runtime_error {
    Lost() : std::runtime_error("the job is no longer this run's") {}
  };
  void cut_part();
  void upload_loop();
  void with_one_retry(const std::function<void()>& step);
  void record();
  void store_part(int n, int64_t frames);

  Target target_;
  std::string job_id_;
  double part_seconds_;
  std::filesystem::path folder_;
  queue::LiveStems live_;
  std::vector<std::vector<int16_t>> pending_;  // per stem: interleaved samples not yet in a part
  int64_t pending_frames_ = 0;
  int parts_cut_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<int, int64_t>> queued_;  // parts written locally, to store: (n, frames)
  bool closing_ = false, failed_ = false, busy_ = false;
  std::atomic<bool> closing_flag_{false};  // closing_, for TransferLimit
  std::vector<std::string> members_;
  std::thread uploader_;
};

}  // namespace msaas::worker

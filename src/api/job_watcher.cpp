// api/job_watcher.cpp: see job_watcher.h.
#include "api/job_watcher.h"

#include <vector>

namespace msaas::api {

JobWatcher::JobWatcher(queue::JobQueue& jobs,
                       std::function<nlohmann::json(const queue::JobRecord&)> view,
                       std::chrono::milliseconds period)
    : jobs_(jobs), view_(std::move(view)), period_(period), thread_([this] { run(); }) {}

JobWatcher::~JobWatcher() {
  stop();
}

void JobWatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JobWatcher::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    read_watched();
    lock.lock();
    changed_.wait_for(lock, period_, [this] { return stopping_; });
  }
}

// Reads every watched job once, outside the lock; streams are woken only on a change. A read
// that started before a stream began watching is not trusted for it (it may be older than the
// view the stream already sent): the entry waits for the next tick.
void JobWatcher::read_watched() {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, entry] : entries_)
      if (entry.watchers > 0) ids.push_back(id);
  }
  bool any_change = false;
  for (const auto& id : ids) {
    long joined = 0;
    {
      std::lock_guard lock(mutex_);
      auto it = entries_.find(id);
      if (stopping_) break;
      if (it == entries_.end()) continue;
      joined = it->second.joined;
    }
    Seen seen;
    try {
      auto record = jobs_.get(id);
      seen.gone = !record;
      if (record) {
        seen.view = view_(*record).dump();
        seen.status = record->status;
      }
    } catch (const std::exception&) {
      break;  // Redis away: the streams keep what they have; the next tick tries again
    }
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.joined != joined) continue;
    if (!it->second.read || it->second.seen.gone != seen.gone ||
        it->second.seen.view != seen.view) {
      it->second.seen = std::move(seen);
      it->second.read = true;
      any_change = true;
    }
  }
  if (any_change) changed_.notify_all();
}

JobWatcher::Watch::Watch(JobWatcher& watcher, std::string id)
    : watcher_(watcher), id_(std::move(id)) {
  std::lock_guard lock(watcher_.mutex_);
  auto& entry = watcher_.entries_[id_];
  ++entry.watchers;
  entry.joined = ++watcher_.joins_;  // never reused, even by an entry made again
  entry.read = false;                // only a read begun after this counts
}

JobWatcher::Watch::~Watch() {
  std::lock_guard lock(watcher_.mutex_);
  auto it = watcher_.entries_.find(id_);
  if (it != watcher_.entries_.end() && --it->second.watchers <= 0) watcher_.entries_.erase(it);
}

JobWatcher::Seen JobWatcher::Watch::next(const std::string& last, std::chrono::milliseconds wait) {
  std::unique_lock lock(watcher_.mutex_);
  auto& entry = watcher_.entries_[id_];
  auto news = [&] {
    return watcher_.stopping_ || (entry.read && (entry.seen.gone || entry.seen.view != last));
  };
  if (!watcher_.changed_.wait_for(lock, wait, news)) {
    Seen unchanged;
    unchanged.view = last;
    unchanged.status = entry.seen.status;
    return unchanged;
  }
  if (watcher_.stopping_) {
    Seen stopped;
    stopped.stopped = true;
    return stopped;
  }
  return entry.seen;
}

}  // namespace msaas::api

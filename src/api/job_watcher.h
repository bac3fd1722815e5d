// api/job_watcher.h: one thread that watches the jobs event streams are open on, and wakes the
// streams when a job's view changes. Each stream used to read its job from Redis every 200 ms;
// now Redis sees one read per watched job per tick, however many streams watch it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "queue/jobs.h"

namespace msaas::api {

class JobWatcher {
 public:
  // `view` turns a job record into what the streams send (the public job view).
  JobWatcher(queue::JobQueue& jobs, std::function<nlohmann::json(const queue::JobRecord&)> view,
             std::chrono::milliseconds period = std::chrono::milliseconds(200));
  ~JobWatcher();
  // Wakes every waiting stream and ends the thread; waits then return `stopped`.
  void stop();

  struct Seen {
    bool stopped = false;  // the server is stopping
    bool gone = false;     // the job was deleted or expired
    std::string view;      // the view as JSON text
    std::string status;    // the job's status
  };

  // Interest in one job for as long as it lives: the thread reads only watched jobs.
  class Watch {
   public:
    Watch(JobWatcher& watcher, std::string id);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    // Blocks until the job's view differs from `last`, the job is gone, `wait` passes (then the
    // view is `last` again) or the watcher stops.
    Seen next(const std::string& last, std::chrono::milliseconds wait);

   private:
    JobWatcher& watcher_;
    std::string id_;
  };

 private:
  struct Entry {
    int watchers = 0;
    bool read = false;  // read since the last stream joined
    long joined = 0;  // when the last stream joined (a read is kept only if none joined during it)
    Seen seen;
  };
  void run();
  void read_watched();

  queue::JobQueue& jobs_;
  std::function<nlohmann::json(const queue::JobRecord&)> view_;
  std::chrono::milliseconds period_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Entry> entries_;
  bool stopping_ = false;
  long joins_ = 0;  // streams that ever joined: the clock `joined` is read on
  std::thread thread_;
};

}  // namespace msaas::api

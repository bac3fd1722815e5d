// worker/scratch_folder.h: a worker's scratch space, its own folder under MSAAS_WORK_DIR, held
// with a lock file (flock) for as long as the worker lives. At start, folders whose lock nobody
// holds are removed: they belong to workers that died (a crash, an OOM kill) and restarted in the
// same pod, whose emptyDir would otherwise fill up with one long song's leftovers after another.
// Each job works in a folder inside it that goes away however the job ends.
#pragma once

#include <filesystem>
#include <string>

namespace msaas::worker {

class ScratchFolder {
 public:
  ScratchFolder(const std::filesystem::path& work_dir, const std::string& worker_id);
  ~ScratchFolder();
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;
  const std::filesystem::path& folder() const { return folder_; }

  // A job's folder: created on demand, removed when this goes away (exceptions included).
  class Job {
   public:
    explicit Job(std::filesystem::path dir) : dir_(std::move(dir)) {}
    ~Job();
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;
    void create();

   private:
    std::filesystem::path dir_;
  };

 private:
  std::filesystem::path folder_;
  std::filesystem::path lock_path_;
  int lock_fd_ = -1;
};

// Removes the scratch folders under `work_dir` whose workers are gone (their lock is free);
// returns how many.
int remove_abandoned_scratch(const std::filesystem::path& work_dir);

}  // namespace msaas::worker

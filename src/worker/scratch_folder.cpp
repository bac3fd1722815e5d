// worker/scratch_folder.cpp: see scratch_folder.h.
#include "worker/scratch_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>

namespace msaas::worker {

namespace fs = std::filesystem;

namespace {

const std::string kLockSuffix = ".lock";

// Whether `fd` is still the file at `path` (not one a cleaner unlinked in the meantime).
bool still_there(int fd, const fs::path& path) {
  struct stat open_file {
  }, named{};
  return fstat(fd, &open_file) == 0 && stat(path.c_str(), &named) == 0 &&
         open_file.st_dev == named.st_dev && open_file.st_ino == named.st_ino;
}

}  // namespace

int remove_abandoned_scratch(const fs::path& work_dir) {
  std::error_code ec;
  int removed = 0;
  for (const auto& entry : fs::directory_iterator(work_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() <= kLockSuffix.size() ||
        name.compare(name.size() - kLockSuffix.size(), kLockSuffix.size(), kLockSuffix) != 0)
      continue;
    int fd = open(entry.path().c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    // Free: its worker is gone (the kernel drops an flock with the process).
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && still_there(fd, entry.path())) {
      fs::remove_all(work_dir / name.substr(0, name.size() - kLockSuffix.size()), ec);
      fs::remove(entry.path(), ec);
      ++removed;
    }
    close(fd);
  }
  return removed;
}

ScratchFolder::ScratchFolder(const fs::path& work_dir, const std::string& worker_id)
    : folder_(work_dir / worker_id), lock_path_(work_dir / (worker_id + kLockSuffix)) {
  fs::create_directories(work_dir);
  remove_abandoned_scratch(work_dir);
  // The lock before the folder: a folder is never seen without its held lock. A cleaner may take
  // and unlink a lock file between its creation and our flock: then it is made again.
  for (int attempt = 0; attempt < 10 && lock_fd_ < 0; ++attempt) {
    int fd = open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) break;
    if (flock(fd, LOCK_EX) == 0 && still_there(fd, lock_path_))
      lock_fd_ = fd;
    else
      close(fd);
  }
  if (lock_fd_ < 0) throw std::runtime_error("cannot lock " + lock_path_.string());
  fs::create_directories(folder_);
}

ScratchFolder::~ScratchFolder() {
  std::error_code ec;
  fs::remove_all(folder_, ec);
  fs::remove(lock_path_, ec);
  if (lock_fd_ >= 0) close(lock_fd_);
}

ScratchFolder::Job::~Job() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void ScratchFolder::Job::create() {
  fs::remove_all(dir_);
  fs::create_directories(dir_);
}

}  // namespace msaas::worker

// queue/trash.h: files no job owns, waiting to be deleted. The sorted set `trash` holds one
// member "<kind>:<key>" per file, scored by when it may go. Removing a job puts its files there
// in the same step (scripts.h), so a storage error later leaves them listed, never orphaned; a
// file being written before its job owns it (an upload before enqueue, a run's stems before
// complete) is held there with a later time, so a crash in between cannot orphan it either.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "queue/redis.h"

namespace msaas::queue {

enum class FileKind { upload, output };

struct TrashItem {
  std::string member;  // as stored in `trash`
  FileKind kind;
  std::string key;  // object name in the kind's bucket
};

std::string trash_member(FileKind kind, const std::string& key);
TrashItem trash_item(FileKind kind, const std::string& key);
// A member read back from `trash`; nothing when it is not one of ours.
std::optional<TrashItem> parse_trash_member(const std::string& member);

class Trash {
 public:
  explicit Trash(RedisPool& pool) : pool_(pool) {}
  // Lists a file as trash from `due_s` on, unless a job takes it before (enqueue, complete).
  void hold(FileKind kind, const std::string& key, long long due_s);
  // Makes listed files due now (a run that lost its job gives up its stems).
  void release(const std::vector<std::string>& members);
  // Makes listed files due at `due_s` instead (a finished job's live parts, kept a while for
  // the listeners still reading them).
  void reschedule(const std::vector<std::string>& members, long long due_s);
  // Up to `limit` files due by `now_s`; each is pushed `retry_s` on, so another sweeper skips it
  // and a failed deletion is tried again later.
  std::vector<TrashItem> take_due(long long now_s, int limit, int retry_s);
  // A file deleted: no longer listed.
  void forget(const std::string& member);
  long long size();

 private:
  RedisPool& pool_;
};

}  // namespace msaas::queue

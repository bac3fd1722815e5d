// queue/song_index.cpp: see song_index.h.
#include "queue/song_index.h"

#include "queue/keys.h"

namespace msaas::queue {

void remember_song(RedisPool& pool, const std::string& owner, const std::string& hash,
                   const std::string& job_id, int retention_s) {
  pool.command({"SET", keys::song(owner, hash), job_id, "EX", std::to_string(retention_s)});
}

std::optional<std::string> find_song(RedisPool& pool, const std::string& owner,
                                     const std::string& hash) {
  auto id = pool.command({"GET", keys::song(owner, hash)});
  if (id.is_nil()) return std::nullopt;
  return id.str;
}

}  // namespace msaas::queue

// queue/song_index.h: the original API names a song by its hash (SHA-224 of the uploaded bytes);
// the key `apiv1:<hash>` (`apiv1:<owner>:<hash>` with API keys on) points at the job that
// separates it with the original settings, for as long as finished jobs are kept.
#pragma once

#include <optional>
#include <string>

#include "queue/redis.h"

namespace msaas::queue {

void remember_song(RedisPool& pool, const std::string& owner, const std::string& hash,
                   const std::string& job_id, int retention_s);
// The job id of the song, if it was submitted within the retention.
std::optional<std::string> find_song(RedisPool& pool, const std::string& owner,
                                     const std::string& hash);

}  // namespace msaas::queue

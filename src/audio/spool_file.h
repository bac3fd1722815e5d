// audio/spool_file.h: whole reads and writes on the spools' file descriptors (audio that waits on
// disk instead of in memory: mix_spool.h, stem_spool.h), retried where the kernel stops short.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace msaas::audio {

// Writes all `bytes` at the file's position; AudioError "<what>: <reason>" otherwise.
void write_all(int fd, const char* data, size_t bytes, const std::string& what);
// Reads all `bytes` from `offset` (the file's position untouched, so threads may share `fd`);
// AudioError `what` where the file is shorter or unreadable.
void read_all_at(int fd, char* data, size_t bytes, off_t offset, const std::string& what);

}  // namespace msaas::audio

// audio/spool_file.cpp: see spool_file.h.
#include "audio/spool_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "audio/audio.h"

namespace msaas::audio {

void write_all(int fd, const char* data, size_t bytes, const std::string& what) {
  while (bytes > 0) {
    ssize_t n = ::write(fd, data, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw AudioError(what + ": " + (n < 0 ? std::strerror(errno) : "disk full?"));
    data += n;
    bytes -= static_cast<size_t>(n);
  }
}

void read_all_at(int fd, char* data, size_t bytes, off_t offset, const std::string& what) {
  while (bytes > 0) {
    ssize_t n = pread(fd, data, bytes, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw AudioError(what);
    data += n;
    bytes -= static_cast<size_t>(n);
    offset += n;
  }
}

}  // namespace msaas::audio

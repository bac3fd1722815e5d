// audio/mix_spool.cpp: see mix_spool.h. Frames are stored interleaved, float32, in native order.
#include "audio/mix_spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "audio/audio.h"
#include "audio/decode.h"
#include "audio/spool_file.h"

namespace msaas::audio {
namespace {

// An unnamed file: removed from the folder at once, freed by the kernel when closed.
int open_unnamed(const std::string& folder) {
  std::string pattern = (std::filesystem::path(folder) / ".msaas-mix-XXXXXX").string();
  int fd = mkstemp(pattern.data());
  if (fd < 0)
    throw AudioError("cannot create a temporary file in " + folder + ": " + std::strerror(errno));
  unlink(pattern.c_str());
  return fd;
}

}  // namespace

MixSpool::MixSpool(const std::string& path, int sample_rate, int channels,
                   const std::string& folder, double max_seconds)
    : fd_(open_unnamed(folder)), sample_rate_(sample_rate), channels_(channels) {
  try {
    std::vector<float> block;
    frames_ = decode_stream(
        path, sample_rate, channels,
        [&](const float* const* planes, int64_t n) {
          block.resize(static_cast<size_t>(n * channels));
          for (int64_t i = 0; i < n; ++i)
            for (int c = 0; c < channels; ++c) block[i * channels + c] = planes[c][i];
          write_all(fd_, reinterpret_cast<const char*>(block.data()), block.size() * sizeof(float),
                    "cannot spool the decoded audio");
        },
        max_seconds);
  } catch (...) {
    close(fd_);
    throw;
  }
}

MixSpool::~MixSpool() {
  close(fd_);
}

void MixSpool::read(int64_t offset, int64_t frames, float* out) const {
  if (offset < 0 || frames < 0 || offset + frames > frames_)
    throw AudioError("read outside the decoded audio");
  interleaved_.resize(static_cast<size_t>(frames * channels_));
  read_all_at(
      fd_, reinterpret_cast<char*>(interleaved_.data()), interleaved_.size() * sizeof(float),
      static_cast<off_t>(offset * channels_ * sizeof(float)), "cannot read back the decoded audio");
  for (int64_t i = 0; i < frames; ++i)
    for (int c = 0; c < channels_; ++c) out[c * frames + i] = interleaved_[i * channels_ + c];
}

}  // namespace msaas::audio

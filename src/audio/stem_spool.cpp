// audio/stem_spool.cpp: see stem_spool.h.
#include "audio/stem_spool.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace msaas::audio {
namespace fs = std::filesystem;

StemSpool::StemSpool(std::vector<fs::path> paths, int channels)
    : stems_(paths.size()), channels_(channels) {
  for (size_t i = 0; i < paths.size(); ++i) {
    Stem& s = stems_[i];
    s.final_path = paths[i];
    fs::create_directories(s.final_path.parent_path());
    s.spool_path = s.final_path.parent_path() /
                   ("." + s.final_path.filename().string() + ".spool-" + std::to_string(getpid()));
    s.file.open(s.spool_path, std::ios::in | std::ios::out | std::ios::trunc | std::ios::binary);
    if (!s.file) throw std::runtime_error("cannot write " + s.spool_path.string());
  }
}

StemSpool::~StemSpool() {
  for (auto& s : stems_) {
    s.file.close();
    std::error_code ec;
    fs::remove(s.spool_path, ec);
  }
}

void StemSpool::append(size_t index, const float* planar, int64_t frames) {
  Stem& s = stems_.at(index);
  if (index == 0) chunks_.push_back(frames);
  for (int64_t i = 0; i < channels_ * frames; ++i) s.peak = std::max(s.peak, std::fabs(planar[i]));
  s.file.write(reinterpret_cast<const char*>(planar), channels_ * frames * sizeof(float));
  if (!s.file) throw std::runtime_error("cannot write " + s.spool_path.string() + " (disk full?)");
}

void StemSpool::encode_one(Stem& s, int sample_rate, ClipMode clip, const EncodeOptions& format) {
  std::vector<float> block;
  float divisor = audio::clip_divisor(clip, s.peak);
  audio::Encoder encoder(s.final_path.string(), sample_rate, channels_, format);
  s.file.seekg(0);
  for (int64_t frames : chunks_) {
    block.resize(channels_ * frames);
    s.file.read(reinterpret_cast<char*>(block.data()), block.size() * sizeof(float));
    if (!s.file) throw std::runtime_error("cannot read back " + s.spool_path.string());
    audio::apply_clip(block.data(), block.size(), clip, divisor);
    encoder.write(block.data(), frames, frames);
  }
  encoder.finish();
}

void StemSpool::encode_all(int sample_rate, ClipMode clip, const EncodeOptions& format,
                           int threads) {
  // Each stem has its own spool file and encoder: with more cores they encode at once (MP3's
  // encoder runs on one core, four stems of a long song take seconds each).
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  size_t workers = std::min(stems_.size(), static_cast<size_t>(threads));
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(stems_.size());
  auto work = [&] {
    for (size_t i; (i = next++) < stems_.size();) {
      try {
        encode_one(stems_[i], sample_rate, clip, format);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  helpers.reserve(workers);  // no reallocation (and no throw) with threads running
  for (size_t w = 1; w < workers; ++w) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the ones running (and this one) do the rest
    }
  }
  work();
  for (auto& h : helpers) h.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace msaas::audio

// worker/separate_job.cpp: see separate_job.h.
#include "worker/separate_job.h"

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>

#include "audio/clip.h"
#include "audio/encode.h"
#include "audio/mix_spool.h"
#include "audio/stem_spool.h"

namespace msaas::worker {

namespace {

size_t index_of(const std::vector<std::string>& sources, const std::string& name) {
  return std::find(sources.begin(), sources.end(), name) - sources.begin();
}

audio::EncodeOptions encode_options(const std::string& format) {
  audio::EncodeOptions e;
  if (format == "mp3") {
    e.format = audio::Format::mp3;
    e.mp3_bitrate_kbps = 320;
  } else if (format == "flac") {
    e.format = audio::Format::flac;
  } else if (format == "wav") {
    e.format = audio::Format::wav;
  } else {
    throw JobError("unknown format \"" + format + "\" (mp3, wav or flac)");
  }
  return e;
}

// How each output stem is made from the model's sources: the sum of these source indices.
std::vector<std::vector<size_t>> stem_recipes(const std::vector<std::string>& names,
                                              const std::vector<std::string>& sources) {
  std::vector<std::vector<size_t>> recipes;
  for (const auto& name : names) {
    std::vector<size_t> parts;
    if (name.rfind("no_", 0) == 0) {
      size_t skip = index_of(sources, name.substr(3));
      for (size_t s = 0; s < sources.size(); ++s)
        if (s != skip) parts.push_back(s);
    } else if (name == "other" && sources.size() > 4) {
      // Four stems from a six-stem model: guitar and piano belong to "other".
      for (size_t s = 0; s < sources.size(); ++s)
        if (sources[s] != "drums" && sources[s] != "bass" && sources[s] != "vocals")
          parts.push_back(s);
    } else {
      parts.push_back(index_of(sources, name));
    }
    recipes.push_back(parts);
  }
  return recipes;
}

}  // namespace

std::string content_type_for(const std::string& format) {
  if (format == "mp3") return "audio/mpeg";
  if (format == "flac") return "audio/flac";
  if (format == "wav") return "audio/wav";
  return "application/octet-stream";
}

std::vector<std::string> output_stem_names(const std::string& stems,
                                           const std::vector<std::string>& sources) {
  auto has = [&](const std::string& s) { return index_of(sources, s) < sources.size(); };
  if (stems == "4") {
    if (sources.size() == 4) return sources;
    for (const char* s : {"drums", "bass", "other", "vocals"})
      if (!has(s)) throw JobError("the model has no \"" + std::string(s) + "\" stem");
    return {"drums", "bass", "other", "vocals"};
  }
  if (stems == "6") {
    if (sources.size() != 6)
      throw JobError("six stems need a six-stem model such as htdemucs_6s; this one has " +
                     std::to_string(sources.size()));
    return sources;
  }
  if (stems.rfind("two:", 0) == 0) {
    std::string stem = stems.substr(4);
    if (!has(stem)) {
      std::string names;
      for (const auto& s : sources) names += (names.empty() ? "" : ", ") + s;
      throw JobError("the model has no \"" + stem + "\" stem (it has " + names + ")");
    }
    return {stem, "no_" + stem};
  }
  throw JobError("stems must be 4, 6 or two:<stem>, not \"" + stems + "\"");
}

// The CRC-32 a zip entry carries, read from the finished file.
static uint32_t file_crc32(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buffer(1 << 20);
  uLong crc = crc32(0L, Z_NULL, 0);
  while (in.read(buffer.data(), buffer.size()) || in.gcount() > 0)
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), static_cast<uInt>(in.gcount()));
  if (in.bad()) throw std::runtime_error("cannot read back " + path.string());
  return static_cast<uint32_t>(crc);
}

JobResult separate_job(const Separator& model, const std::filesystem::path& input,
                       const std::string& stems, const std::string& format,
                       const SeparationOptions& options, const std::filesystem::path& out_dir,
                       const StageProgress& progress, double max_seconds) {
  auto names = output_stem_names(stems, model.sources());
  auto recipes = stem_recipes(names, model.sources());
  auto encoding = encode_options(format);
  if (!progress("decoding", 2)) throw Cancelled();
  // The decoded song waits in a file beside the upload, not in memory (audio/mix_spool.h); a
  // song over the limit is refused from its header, or once decoding passes the limit.
  std::unique_ptr<audio::MixSpool> spooled;
  try {
    spooled = std::make_unique<audio::MixSpool>(input.string(), model.sample_rate(),
                                                model.audio_channels(),
                                                input.parent_path().string(), max_seconds);
  } catch (const audio::TooLong& e) {
    throw JobError(e.what());
  }
  const audio::MixSpool& mix = *spooled;
  JobResult result;
  result.audio_seconds = mix.seconds();
  std::string ext = audio::extension(encoding.format);
  std::vector<std::filesystem::path> paths;
  for (const auto& name : names) paths.push_back(out_dir / (name + "." + ext));
  audio::StemSpool spool(paths, mix.channels());
  int last_percent = -1;
  auto started = std::chrono::steady_clock::now();
  std::vector<float> sum;
  model.separate_stream([&](int64_t offset, int64_t n, float* out) { mix.read(offset, n, out); },
                        mix.frames(), options,
                        [&](const float* sources, int64_t n) {
                          int64_t size = mix.channels() * n;
                          for (size_t i = 0; i < recipes.size(); ++i) {
                            sum.assign(sources + recipes[i][0] * size,
                                       sources + (recipes[i][0] + 1) * size);
                            for (size_t k = 1; k < recipes[i].size(); ++k)
                              for (int64_t j = 0; j < size; ++j)
                                sum[j] += sources[recipes[i][k] * size + j];
                            spool.append(i, sum.data(), n);
                          }
                        },
                        [&](const Progress& p) {
                          int percent = 5 + static_cast<int>(85 * p.fraction());
                          if (percent == last_percent) return true;
                          last_percent = percent;
                          return progress("separating", percent);
                        });
  result.separation_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!progress("encoding", 90)) throw Cancelled();
  spool.encode_all(mix.sample_rate(), audio::ClipMode::rescale, encoding);
  for (size_t i = 0; i < names.size(); ++i)
    result.stems.push_back({names[i], paths[i], content_type_for(format), file_crc32(paths[i])});
  return result;
}

}  // namespace msaas::worker

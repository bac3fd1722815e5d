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
#include "audio/stem_recipe.h"
#include "audio/stem_spool.h"

namespace msaas::worker {

namespace {

audio::EncodeOptions encode_options(queue::OutputFormat format) {
  audio::EncodeOptions e;
  switch (format) {
    case queue::OutputFormat::mp3:
      e.format = audio::Format::mp3;
      e.mp3_bitrate_kbps = 320;
      break;
    case queue::OutputFormat::flac:
      e.format = audio::Format::flac;
      break;
    case queue::OutputFormat::wav:
      e.format = audio::Format::wav;
      break;
  }
  return e;
}

}  // namespace

std::vector<std::string> output_stem_names(const queue::Stems& stems,
                                           const std::vector<std::string>& sources) {
  try {
    return stems.outputs(sources);
  } catch (const queue::SettingsError& e) {
    throw JobError(e.what());
  }
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
                       const queue::JobSettings& settings, const SeparationOptions& options,
                       const std::filesystem::path& out_dir, const StageProgress& progress,
                       double max_seconds, StemListener* listener) {
  auto names = output_stem_names(settings.stems, model.sources());
  // Four stems from a six-stem model: guitar and piano belong to "other".
  auto recipes = audio::stem_recipes(names, model.sources(),
                                     settings.stems.set == queue::Stems::Set::four
                                         ? audio::OtherStem::with_sources_unasked
                                         : audio::OtherStem::as_separated);
  auto encoding = encode_options(settings.format);
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
  audio::StemSpool spool(paths, mix.channels(),
                         {mix.sample_rate(), audio::ClipMode::rescale, encoding, options.threads});
  if (listener) listener->begin(names, mix.sample_rate(), mix.channels(), mix.frames());
  int last_percent = -1;
  auto started = std::chrono::steady_clock::now();
  model.separate_stream([&](int64_t offset, int64_t n, float* out) { mix.read(offset, n, out); },
                        mix.frames(), options,
                        [&](const float* sources, int64_t n) {
                          audio::mix_stems(recipes, sources, nullptr, mix.channels() * n,
                                           [&](size_t i, const float* stem) {
                                             spool.append(i, stem, n);
                                             if (listener) listener->stretch(i, stem, n);
                                           });
                          if (listener) listener->stretch_end();
                        },
                        [&](const Progress& p) {
                          int percent = 5 + static_cast<int>(85 * p.fraction());
                          if (percent == last_percent) return true;
                          last_percent = percent;
                          return progress("separating", percent);
                        });
  if (listener) listener->end();
  result.separation_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!progress("encoding", 90)) throw Cancelled();
  spool.encode_all();
  for (size_t i = 0; i < names.size(); ++i)
    result.stems.push_back(
        {names[i], paths[i], queue::content_type(settings.format), file_crc32(paths[i])});
  return result;
}

}  // namespace msaas::worker

// worker/separate_job.h: one job's separation on local files: decode the upload, separate it with
// a loaded model, write the stems the job asked for (4, 6 or two) in its format, each with its
// CRC-32 (the API assembles the zip download from the stored stems with it: api/zip_stream.h).
// Nothing here knows about Redis or storage; the worker moves the files.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "msaas/engine.h"
#include "queue/job_settings.h"

namespace msaas::worker {

// A job that can never succeed as asked (a stem the model lacks, "6" on a 4-stem model).
class JobError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct OutputFile {
  std::string name;  // stem name
  std::filesystem::path path;
  std::string content_type;
  uint32_t crc32 = 0;
};

struct JobResult {
  std::vector<OutputFile> stems;
  double audio_seconds = 0;
  double separation_seconds = 0;
};

// Stage name and percent 0-100; return false to cancel (throws msaas::Cancelled).
using StageProgress = std::function<bool(const std::string& stage, int percent)>;

// Hears the output stems while they are separated, a stretch at a time, as final as the
// complete stems before their whole-song clip rescaling (worker/live_parts.h publishes them).
class StemListener {
 public:
  virtual ~StemListener() = default;
  // Once the song is decoded: the output stems and the song's shape.
  virtual void begin(const std::vector<std::string>& stems, int sample_rate, int channels,
                     int64_t frames) = 0;
  // One stem's next `frames` frames, planar; every stem in turn, then stretch_end().
  virtual void stretch(size_t stem, const float* planar, int64_t frames) = 0;
  virtual void stretch_end() = 0;
  // Every frame was heard.
  virtual void end() = 0;
};

// The output stems for a `stems` setting and a model's sources; a JobError when it lacks one.
std::vector<std::string> output_stem_names(const queue::Stems& stems,
                                           const std::vector<std::string>& sources);

JobResult separate_job(const Separator& model, const std::filesystem::path& input,
                       const queue::JobSettings& settings, const SeparationOptions& options,
                       const std::filesystem::path& out_dir, const StageProgress& progress,
                       double max_seconds = 0, StemListener* listener = nullptr);

}  // namespace msaas::worker

// queue/job_record.h: a job as Redis keeps it (the hash `job:<id>`, written only by the scripts of
// scripts.h), read into one typed record for the API, the worker and the tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "queue/job_settings.h"

namespace msaas::queue {

// One stored stem of a finished job.
struct JobOutput {
  std::string name;  // stem name: "vocals", "no_vocals"
  std::string key;   // object name in the `output` bucket: <id>/<run>/<name>.<ext>
  std::string content_type;
  int64_t size = 0;
  std::optional<uint32_t> crc32;  // absent on stems stored before zips were assembled on the fly
  // The stem's file name: the last part of its key ("vocals.mp3").
  std::string file_name() const { return key.substr(key.rfind('/') + 1); }
};

// A running job's stems as far as they are separated (worker/live_parts.h): run `run` has
// published `parts` parts per stem, objects <id>/<run>/parts/<stem>/<n>.pcm in the `output`
// bucket (n from 0; 16-bit little-endian PCM, channels interleaved), which together hold the
// first `frames_ready` of the song's `frames` frames.
struct LiveStems {
  long long run = 0;
  int parts = 0;
  int64_t frames_ready = 0, frames = 0;
  int sample_rate = 0, channels = 0;
  std::vector<std::string> stems;

  double seconds_ready() const { return sample_rate ? double(frames_ready) / sample_rate : 0; }
  // The object holding part `n` of `stem`.
  std::string part_key(const std::string& job_id, const std::string& stem, int n) const;
};

struct JobRecord {
  std::string id;
  std::string hash;    // SHA-224 hex of the uploaded bytes
  std::string upload;  // object name in the `queue` bucket
  std::string owner;   // API key name ("" when keys are off)
  std::string api;     // "v1" or "apiv1"
  JobSettings settings;
  std::string status = "queued";  // queued, running, done, failed
  std::string stage;              // queued, retrying, starting, decoding, separating, ...
  int progress = 0;               // percent
  int attempts = 0;               // failed or lost runs so far
  int starts = 0;                 // runs started
  long long run = 0;              // the current run's number (the fencing token)
  long long generation = 0;       // changes each time the job is made anew
  std::string worker;             // who runs or ran it
  long long created = 0, updated = 0, finished = 0;  // seconds since the epoch
  std::optional<double> audio_seconds;               // once done
  std::optional<double> real_time_factor;            // separation seconds per audio second
  std::vector<JobOutput> outputs;                    // once done
  std::optional<LiveStems> live;                     // once a run has decoded the song
  std::string zip;                                   // a stored zip, on jobs from before 1.0
  std::string error;                                 // why it failed, or the last retry's reason

  bool done() const { return status == "done"; }
  bool ended() const { return status == "done" || status == "failed"; }
  // The live stems of the run now separating the job; nothing when it is not running or the
  // recorded ones are an earlier run's (handed back: its parts are gone).
  const LiveStems* running_live() const {
    return status == "running" && live && live->run == run ? &*live : nullptr;
  }
  // The output for `stem` ("vocals" or "vocals.mp3"); nothing if absent.
  const JobOutput* find_output(const std::string& stem) const;
};

// The `outputs` field as stored: a JSON array of {name, key, content_type, size, crc32}.
std::string outputs_text(const std::vector<JobOutput>& outputs);

// The `live` field as stored (JSON), and back; nothing when it does not parse.
std::string live_text(const LiveStems& live);
std::optional<LiveStems> read_live(const std::string& text);

// The record from the hash's field names and values as HGETALL returns them (name, value, ...).
JobRecord job_record_from_fields(const std::vector<std::string>& fields);

}  // namespace msaas::queue

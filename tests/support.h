// tests/support.h: helpers the tests share: temporary folders, running programs, making audio
// files with the real ffmpeg encoders, reading raw float files, signal-to-error ratios.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace msaas::test {

namespace fs = std::filesystem;

// A fresh folder under the system temp dir, removed with its content at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
  long peak_rss_kb = 0;  // the program's peak resident memory, from the kernel (wait4)
};

// Runs argv[0] with arguments (no shell), capturing stdout and stderr.
CommandResult run(const std::vector<std::string>& argv, const fs::path& cwd = {});

// Runs the msaas binary under test.
CommandResult run_msaas(const std::vector<std::string>& args, const fs::path& cwd = {});

// Writes a tone file with the ffmpeg program: `seconds` of a `frequency` Hz sine (plus a
// quieter second tone on channel 2) at `rate`, with `channels`, encoded with `codec_args`
// (e.g. {"-c:a", "libmp3lame"}). Returns the path.
fs::path make_tone(const fs::path& path, double seconds, int rate, int channels,
                   const std::vector<std::string>& codec_args = {}, double frequency = 440);

std::vector<float> read_f32(const fs::path& path);
std::string read_text(const fs::path& path);
// The names of the entries in `dir` (not below), sorted.
std::vector<std::string> names_in(const fs::path& dir);
// Hex SHA-224 of `bytes` (the original API's song hash), computed here independently of the
// product's code.
std::string sha224_hex(const std::string& bytes);

// `bytes` in base64 as coreutils' encoder writes it (one line).
std::string base64_of(const std::string& bytes);
void write_text(const fs::path& path, const std::string& text);

// 10 log10(|reference|^2 / |estimate - reference|^2).
double snr_db(const float* estimate, const float* reference, size_t n);

// The first file in `folder` named `<sig>-*` (a checkpoint by signature); empty if none.
fs::path find_checkpoint(const fs::path& folder, const std::string& sig);
// The real htdemucs in ../shared/models; empty where it is absent.
fs::path real_htdemucs();
// A test checkpoint of tests/data/parity/models; throws if missing.
fs::path parity_checkpoint(const std::string& sig);

// Expects `call` to throw `Error` with `words` in its message.
template <class Error, class Call>
void expect_error(Call&& call, const std::string& words) {
  try {
    call();
    ADD_FAILURE() << "expected an error mentioning \"" << words << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

// Sets an environment variable for one scope, then puts back what was there.
class EnvironmentVariable {
 public:
  EnvironmentVariable(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value, 1);
  }
  ~EnvironmentVariable() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }
  EnvironmentVariable(const EnvironmentVariable&) = delete;
  EnvironmentVariable& operator=(const EnvironmentVariable&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Paths given by CMake.
fs::path msaas_binary();
fs::path test_data();
fs::path shared_models();  // ../shared/models (may not exist)

}  // namespace msaas::test

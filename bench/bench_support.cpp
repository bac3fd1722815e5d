// bench/bench_support.cpp: see bench_support.h.
#include "bench_support.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "audio/audio.h"
#include "audio/encode.h"

namespace msaas::bench {
namespace fs = std::filesystem;

void write_song(const fs::path& path, double seconds) {
  const int rate = 44100;
  audio::Buffer b(rate, 2, static_cast<int64_t>(seconds * rate));
  uint32_t noise = 12345;
  for (int64_t i = 0; i < b.frames; ++i) {
    double t = double(i) / rate, beat = std::fmod(t, 0.5);
    double bass = 0.3 * std::sin(2 * M_PI * (55 + 27.5 * (std::fmod(t, 4) > 2)) * t);
    double chords = 0.07 * (std::sin(2 * M_PI * 261.6 * t) + std::sin(2 * M_PI * 329.6 * t) +
                            std::sin(2 * M_PI * 392.0 * t));
    double kick = 0.8 * std::exp(-30 * beat) * std::sin(2 * M_PI * 60 * beat);
    double voice = 0.2 * std::sin(2 * M_PI * (440 + 20 * std::sin(2 * M_PI * 5 * t)) * t) *
                   (std::fmod(t, 4) < 3);
    noise = noise * 1664525u + 1013904223u;
    double hiss = 0.01 * (noise / 4294967296.0 - 0.5);
    b.channel(0)[i] = static_cast<float>(bass + chords + kick + voice + hiss);
    b.channel(1)[i] = static_cast<float>(0.9 * bass + 1.1 * chords + kick + 0.8 * voice - hiss);
  }
  audio::EncodeOptions o;
  o.depth = audio::SampleDepth::float32;
  audio::write_file(path.string(), b, o);
}

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

ScratchFolder::ScratchFolder(fs::path p) : path(std::move(p)) {
  fs::create_directories(path);
}

ScratchFolder::~ScratchFolder() {
  std::error_code ec;
  fs::remove_all(path, ec);
}

fs::path source_file(const std::string& relative) {
  fs::path beside = fs::canonical("/proc/self/exe").parent_path().parent_path() / relative;
  return fs::exists(beside) ? beside : fs::path(MSAAS_SOURCE_DIR) / relative;
}

std::string drop_blas_coretype() {
  const char* set = std::getenv("OPENBLAS_CORETYPE");
  std::string was = set ? set : "";
  unsetenv("OPENBLAS_CORETYPE");
  return was;
}

ChildResult run_child(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  // Output goes to files: neither pipe can fill up and stall the child.
  std::string stem =
      (fs::temp_directory_path() / ("msaas-bench-child-" + std::to_string(getpid()))).string();
  std::string out_path = stem + ".out", err_path = stem + ".err";
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) {
    if (out >= 0) close(out);
    if (err >= 0) close(err);
    throw std::runtime_error("cannot write " + out_path);
  }
  // Everything the child needs is made before the fork: it only redirects and execs.
  std::vector<std::string> environment(env);
  for (char** e = environ; *e; ++e) {
    std::string entry = *e, name = entry.substr(0, entry.find('=') + 1);
    bool replaced = false;
    for (const auto& mine : env) replaced |= mine.rfind(name, 0) == 0;
    if (!replaced) environment.push_back(entry);
  }
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) {
    close(out);
    close(err);
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    dup2(out, 1);  // dup2's copies do not inherit O_CLOEXEC
    dup2(err, 2);
    execve(args[0], args.data(), envp.data());
    const char* why = strerror(errno);
    if (write(2, why, strlen(why)) < 0) _exit(127);
    _exit(127);
  }
  close(out);
  close(err);
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0)
    if (errno != EINTR) throw std::runtime_error("wait4 failed");
  ChildResult r;
  r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.peak_kb = usage.ru_maxrss;
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  fs::remove(out_path);
  fs::remove(err_path);
  return r;
}

}  // namespace msaas::bench

// tests/support.cpp: see support.h.
#include "support.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace msaas::test {

// Every process a test starts inherits this mark (the build folder); the last test
// (tests/no_processes_left.sh) fails when any of them is still running.
const bool children_are_marked = [] {
  setenv("MSAAS_TEST_CHILD", fs::path(MSAAS_BINARY).parent_path().c_str(), 1);
  return true;
}();

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() /
          ("msaas-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {

std::string slurp_fd(int fd) {
  std::string out;
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) out.append(buffer, n);
  return out;
}

}  // namespace

CommandResult run(const std::vector<std::string>& argv, const fs::path& cwd) {
  // stdout and stderr go to files so that neither pipe can fill up and block the child.
  TempDir scratch;
  fs::path out_path = scratch / "out", err_path = scratch / "err";
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(127);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null = open("/dev/null", O_RDONLY);
    dup2(out, 1);
    dup2(err, 2);
    dup2(null, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  CommandResult r;
  r.peak_rss_kb = usage.ru_maxrss;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  int out = open(out_path.c_str(), O_RDONLY), err = open(err_path.c_str(), O_RDONLY);
  r.out = slurp_fd(out);
  r.err = slurp_fd(err);
  close(out);
  close(err);
  return r;
}

CommandResult run_msaas(const std::vector<std::string>& args, const fs::path& cwd) {
  std::vector<std::string> argv{msaas_binary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, cwd);
}

fs::path make_tone(const fs::path& path, double seconds, int rate, int channels,
                   const std::vector<std::string>& codec_args, double frequency) {
  std::ostringstream expr;
  expr << "aevalsrc=0.5*sin(2*PI*" << frequency << "*t)";
  for (int c = 1; c < channels; ++c) expr << "|0.25*sin(2*PI*" << frequency * (c + 1) << "*t)";
  expr << ":s=" << rate << ":d=" << seconds;
  std::vector<std::string> argv{"ffmpeg", "-loglevel", "error", "-y",
                                "-f",     "lavfi",     "-i",    expr.str()};
  argv.insert(argv.end(), codec_args.begin(), codec_args.end());
  argv.push_back(path.string());
  auto r = run(argv);
  if (r.exit_code != 0) throw std::runtime_error("ffmpeg failed: " + r.err);
  return path;
}

std::vector<float> read_f32(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::vector<float> data(fs::file_size(path) / sizeof(float));
  in.read(reinterpret_cast<char*>(data.data()), data.size() * sizeof(float));
  return data;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

std::string sha224_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha224(), nullptr);
  std::string hex;
  char pair[3];
  for (unsigned i = 0; i < size; ++i) {
    std::snprintf(pair, sizeof pair, "%02x", digest[i]);
    hex += pair;
  }
  return hex;
}

std::string base64_of(const std::string& bytes) {
  TempDir dir;
  write_text(dir / "bytes", bytes);
  auto r = run({"base64", "-w0", (dir / "bytes").string()});
  if (r.exit_code != 0) throw std::runtime_error("base64 failed: " + r.err);
  return r.out;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

double snr_db(const float* estimate, const float* reference, size_t n) {
  double signal = 0, error = 0;
  for (size_t i = 0; i < n; ++i) {
    signal += double(reference[i]) * reference[i];
    double d = double(estimate[i]) - reference[i];
    error += d * d;
  }
  if (error == 0) return 200.0;
  return 10 * std::log10(signal / error);
}

fs::path find_checkpoint(const fs::path& folder, const std::string& sig) {
  if (!fs::is_directory(folder)) return {};
  for (const auto& e : fs::directory_iterator(folder))
    if (e.path().filename().string().rfind(sig + "-", 0) == 0) return e.path();
  return {};
}

fs::path real_htdemucs() {
  return find_checkpoint(shared_models(), "955717e8");
}

fs::path parity_checkpoint(const std::string& sig) {
  auto path = find_checkpoint(test_data() / "parity" / "models", sig);
  if (path.empty()) throw std::runtime_error("no test checkpoint " + sig);
  return path;
}

fs::path msaas_binary() {
  return MSAAS_BINARY;
}
fs::path test_data() {
  return MSAAS_TEST_DATA;
}
fs::path shared_models() {
  return MSAAS_SHARED_MODELS;
}

}  // namespace msaas::test

// tests/file_server.h: a small HTTP/1.1 file server on loopback for download tests: GET with
// `Range: bytes=N-`, 404 for missing files, and an optional cut that drops the connection after
// some bytes of the first response (a broken download). A real server over real sockets.
#pragma once

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace msaas::test {

class FileServer {
 public:
  explicit FileServer(std::filesystem::path root);
  ~FileServer();
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  void cut_first_response_after(size_t bytes) { cut_after_ = bytes; }
  std::vector<std::string> requests() const;  // "GET /path range=N-" per request

 private:
  void serve();
  void handle(int client);
  std::filesystem::path root_;
  int listener_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> cut_after_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

}  // namespace msaas::test

// api/connection_stream.h: one client connection as cpp-httplib reads and writes it, with the
// limits a public server needs that httplib's own socket stream lacks: a byte budget and a
// deadline for the whole of what is being read now (the request head, then the body), not just
// a timeout per read. A client that trickles a byte at a time, or sends an endless header line,
// meets the budget or the deadline and its connection is closed.
#pragma once

#include <httplib.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace msaas::api {

class ConnectionStream : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  // `server_socket` is httplib's listening socket: -1 once the server stops, which ends a
  // read that is waiting.
  ConnectionStream(int socket, int read_timeout_s, int write_timeout_s,
                   const std::atomic<int>& server_socket);

  // What may be read from now on: at most `bytes` in at most `lines` lines, all of it before
  // `deadline`. Whatever the phase, no line httplib reads a byte at a time (header lines,
  // chunk-size lines, trailers) may pass kLongestLine: its line reader grows without end.
  static constexpr size_t kLongestLine = 8 * 1024;
  void limit_reading(uint64_t bytes, Clock::time_point deadline, uint64_t lines = UINT64_MAX);
  // Bytes read since the last limit_reading.
  uint64_t bytes_read() const { return bytes_read_; }
  bool over_budget() const { return over_budget_; }
  bool past_deadline() const { return past_deadline_; }
  // Bytes received but not yet read by httplib (a pipelined next request, for example).
  bool has_buffered() const { return buffered_begin_ < buffered_end_; }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* data, size_t size) override;
  ssize_t write(const char* data, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  int socket() const override { return socket_; }

 private:
  // Counts newlines against the line budget and the length of a line read a byte at a time;
  // false past either.
  bool count_lines(const char* data, size_t n, bool byte_at_a_time);
  // Waits for `events` up to the read (or write) timeout, and never past the deadline.
  bool wait_for(short events, int timeout_s) const;

  int socket_;
  const std::atomic<int>& server_socket_;
  int read_timeout_s_, write_timeout_s_;
  uint64_t budget_ = UINT64_MAX, lines_left_ = UINT64_MAX, bytes_read_ = 0;
  size_t line_length_ = 0;  // bytes read one at a time since the last newline
  Clock::time_point deadline_ = Clock::time_point::max();
  mutable bool over_budget_ = false, past_deadline_ = false;
  // Reads are buffered: httplib reads the head a byte at a time.
  std::array<char, 4096> buffer_{};
  size_t buffered_begin_ = 0, buffered_end_ = 0;
};

}  // namespace msaas::api

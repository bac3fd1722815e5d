// api/connection_stream.cpp: see connection_stream.h.
#include "api/connection_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace msaas::api {

namespace {

void address_text(const sockaddr_storage& address, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    port = ntohs(v4.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    port = ntohs(v6.sin6_port);
  }
  ip = text;
}

}  // namespace

ConnectionStream::ConnectionStream(int socket, int read_timeout_s, int write_timeout_s,
                                   const std::atomic<int>& server_socket)
    : socket_(socket),
      server_socket_(server_socket),
      read_timeout_s_(read_timeout_s),
      write_timeout_s_(write_timeout_s) {}

void ConnectionStream::limit_reading(uint64_t bytes, Clock::time_point deadline, uint64_t lines) {
  budget_ = bytes;
  deadline_ = deadline;
  lines_left_ = lines;
  bytes_read_ = 0;
  line_length_ = 0;
  over_budget_ = past_deadline_ = false;
}

bool ConnectionStream::wait_for(short events, int timeout_s) const {
  bool reading = events == POLLIN;  // reads keep the deadline and stop with the server
  auto until = Clock::now() + std::chrono::seconds(timeout_s);
  bool deadline_first = reading && deadline_ <= until;
  if (deadline_first) until = deadline_;
  for (;;) {
    auto now = Clock::now();
    if (now >= until) {
      if (deadline_first) past_deadline_ = true;
      return false;
    }
    auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
    pollfd p{socket_, events, 0};
    int ready = poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
    if (reading && server_socket_ == -1) return false;  // the server is stopping
  }
}

bool ConnectionStream::is_readable() const {
  return has_buffered() || wait_for(POLLIN, read_timeout_s_);
}

bool ConnectionStream::is_writable() const {
  return wait_for(POLLOUT, write_timeout_s_);
}

ssize_t ConnectionStream::read(char* data, size_t size) {
  if (budget_ == 0) {
    over_budget_ = true;
    return -1;
  }
  // Checked on every read, not only when one waits: bytes that keep coming just in time, or
  // already buffered, do not stretch the deadline.
  if (Clock::now() >= deadline_) {
    past_deadline_ = true;
    return -1;
  }
  size = static_cast<size_t>(std::min<uint64_t>(size, budget_));
  if (!has_buffered()) {
    if (!is_readable()) return -1;
    ssize_t n = recv(socket_, buffer_.data(), buffer_.size(), 0);
    if (n <= 0) return n;
    buffered_begin_ = 0;
    buffered_end_ = static_cast<size_t>(n);
  }
  size_t n = std::min(size, buffered_end_ - buffered_begin_);
  std::memcpy(data, buffer_.data() + buffered_begin_, n);
  buffered_begin_ += n;
  budget_ -= n;
  bytes_read_ += n;
  if (!count_lines(data, n, size == 1)) {
    over_budget_ = true;
    return -1;
  }
  return static_cast<ssize_t>(n);
}

bool ConnectionStream::count_lines(const char* data, size_t n, bool byte_at_a_time) {
  for (size_t i = 0; i < n; ++i) {
    if (data[i] == '\n') {
      line_length_ = 0;
      if (lines_left_ != UINT64_MAX && lines_left_-- == 0) return false;
    } else if (byte_at_a_time && ++line_length_ > kLongestLine) {
      return false;
    }
  }
  if (!byte_at_a_time) line_length_ = 0;  // body data, not a line
  return true;
}

ssize_t ConnectionStream::write(const char* data, size_t size) {
  if (!is_writable()) return -1;
  return send(socket_, data, size, MSG_NOSIGNAL);
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  if (getpeername(socket_, reinterpret_cast<sockaddr*>(&address), &size) == 0)
    address_text(address, ip, port);
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  if (getsockname(socket_, reinterpret_cast<sockaddr*>(&address), &size) == 0)
    address_text(address, ip, port);
}

}  // namespace msaas::api

// tests/file_server.cpp: see file_server.h.
#include "file_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace msaas::test {

FileServer::FileServer(std::filesystem::path root) : root_(std::move(root)) {
  listener_ = socket(AF_INET, SOCK_STREAM, 0);
  int yes = 1;
  setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;  // any free port
  if (bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener_, 8) != 0)
    throw std::runtime_error("file server cannot listen");
  socklen_t len = sizeof addr;
  getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

FileServer::~FileServer() {
  stop_ = true;
  thread_.join();
  close(listener_);
}

std::vector<std::string> FileServer::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

void FileServer::serve() {
  while (!stop_) {
    pollfd p{listener_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    int client = accept(listener_, nullptr, nullptr);
    if (client >= 0) {
      // A client that connects and says nothing (another test's program dialling a port that
      // was briefly its peer's) must not hold the one serving thread, nor the destructor.
      timeval limit{5, 0};
      setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
      setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
      handle(client);
      close(client);
    }
  }
}

void FileServer::handle(int client) {
  std::string request;
  char buffer[4096];
  while (request.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = recv(client, buffer, sizeof buffer, 0);
    if (n <= 0) return;
    request.append(buffer, n);
  }
  std::istringstream lines(request);
  std::string method, path;
  lines >> method >> path;
  size_t from = 0;
  auto range = request.find("Range: bytes=");
  if (range != std::string::npos) from = std::stoull(request.substr(range + 13));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(method + " " + path + " range=" + std::to_string(from) + "-");
  }
  std::ifstream file(root_ / path.substr(1), std::ios::binary);
  std::string head, body;
  if (!file) {
    body = "not found";
    head = "HTTP/1.1 404 Not Found\r\n";
  } else {
    std::string all((std::istreambuf_iterator<char>(file)), {});
    if (from >= all.size() && from > 0) {
      head = "HTTP/1.1 416 Range Not Satisfiable\r\n";
    } else {
      body = all.substr(from);
      head = from ? "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + std::to_string(from) +
                        "-" + std::to_string(all.size() - 1) + "/" + std::to_string(all.size()) +
                        "\r\n"
                  : "HTTP/1.1 200 OK\r\n";
    }
  }
  head += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  size_t limit = cut_after_.exchange(0);
  if (limit && limit < body.size()) body.resize(limit);  // the connection drops here
  std::string out = head + body;
  for (size_t sent = 0; sent < out.size();) {
    ssize_t n = send(client, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += n;
  }
}

}  // namespace msaas::test

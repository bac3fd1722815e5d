// fuzz/request_fuzz.cpp: what the API does with a request before anything is stored: our door
// (api/guarded_server.h: head and body limits over cpp-httplib's request and multipart parsing)
// and our upload readers (spool file, size limit, audio sniffing; the original API's JSON read
// as it streams, base64 decoded on the way). Each input is sent as a raw HTTP request over
// loopback to an in-process server with those two handlers.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>
#include <variant>

#include "api/audio_sniff.h"
#include "api/guarded_server.h"
#include "api/upload.h"

namespace {

// The server lives until exit and is stopped there, its listener joined (httplib joins its
// connection threads first): destroyed while a thread still closed a connection, it would be
// a use-after-free of our own making.
struct FuzzServer {
  msaas::api::GuardedServer server{msaas::api::DoorLimits{}};
  std::thread listener;
  int port = 0;

  FuzzServer() {
    server.Post("/upload", [](const httplib::Request& req, httplib::Response& res,
                              const httplib::ContentReader& reader) {
      auto got = msaas::api::receive_upload(req, reader, "/tmp/msaas-request-fuzz", 1 << 20);
      res.status = std::holds_alternative<msaas::api::ReceivedUpload>(got) ? 201 : 400;
    });
    server.Post("/json", [](const httplib::Request&, httplib::Response& res,
                            const httplib::ContentReader& reader) {
      auto got = msaas::api::receive_apiv1_upload(reader, "/tmp/msaas-request-fuzz", 1 << 20);
      auto* upload = std::get_if<msaas::api::Apiv1Upload>(&got);
      res.status = 400;
      if (upload && nlohmann::json::parse(upload->other_members, nullptr, false).is_object())
        res.status = msaas::api::looks_like_audio(upload->song.path) ? 200 : 415;
    });
    server.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
      msaas::api::GuardedServer::body_limits(4 << 20, std::chrono::seconds(2));
      return httplib::Server::HandlerResponse::Unhandled;
    });
    server.set_read_timeout(1);
    port = server.bind_to_any_port("127.0.0.1");
    listener = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  ~FuzzServer() {
    server.stop();
    listener.join();
  }
};

int start_server() {
  static FuzzServer instance;
  return instance.port;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int port = start_server();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    (void)!send(fd, data, size, MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);  // the request ends here; the server must cope with whatever it got
    char buffer[4096];
    timeval timeout{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    while (recv(fd, buffer, sizeof buffer, 0) > 0) {
    }
  }
  close(fd);
  return 0;
}

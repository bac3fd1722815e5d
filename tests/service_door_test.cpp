// tests/service_door_test.cpp: the API's door under hostile clients (issue 18), on the real
// msaas-api: bodies refused within their budgets whatever their framing, request heads with a
// size and a time limit, connection and event-stream caps answered with 503 + Retry-After, and
// health checks and uploads still served while hundreds of slow clients and open event streams
// hold the API. Loopback addresses other than 127.0.0.1 stand for other clients. The figures it
// prints are in docs/reliability.md.
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "queue/redis.h"
#include "service_support.h"

namespace msaas::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string status_line(const std::string& answer) {
  return answer.substr(0, answer.find("\r\n"));
}

// Sends `head`, then `first` and up to `total` bytes of 'A' as a chunked body in 1 MiB chunks
// for as long as the server takes them; returns the status line of the answer.
std::string send_chunked(int port, const std::string& head, const std::string& first,
                         size_t total) {
  RawConnection connection(port);
  connection.send_text(head);
  auto chunk_of = [](const std::string& data) {
    char size[32];
    snprintf(size, sizeof size, "%zx\r\n", data.size());
    return size + data + "\r\n";
  };
  connection.send_some(chunk_of(first), 2);
  std::string chunk = chunk_of(std::string(1 << 20, 'A'));
  for (size_t sent = 0; sent < total; sent += 1 << 20)
    if (!connection.send_some(chunk, 2)) break;  // the server stopped reading
  return status_line(connection.read_all(5));
}

long long proc_status_value(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  return -1;
}

long long redis_calls(RedisServer& redis, const std::string& command) {
  auto info = queue::Redis(redis.url(), 2.0).command({"INFO", "commandstats"}).str;
  auto at = info.find("cmdstat_" + command + ":calls=");
  return at == std::string::npos ? 0 : std::stoll(info.substr(at + 15 + command.size()));
}

// An event stream, open once its first event has arrived.
std::unique_ptr<RawConnection> open_stream(int port, const std::string& from, const std::string& id,
                                           std::string* answer = nullptr) {
  auto stream = std::make_unique<RawConnection>(port, from);
  stream->send_text("GET /v1/jobs/" + id + "/events HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got;
  for (int i = 0; i < 20 && got.find("\r\n\r\n") == std::string::npos; ++i)
    got += stream->read_some(0.5);
  if (got.find("event: progress") == std::string::npos) got += stream->read_some(2);
  if (answer) *answer = got;
  return stream;
}

// A job waiting in the queue (the services here have no worker), for event streams to follow.
std::string queued_job(Service& service, const TempDir& dir) {
  auto created = service.api->client().Post(
      "/v1/jobs", read_file(mp3_song(dir, 2, 440, "song.mp3")), "audio/mpeg");
  if (!created || created->status != 201) throw std::runtime_error("the job was not created");
  return json::parse(created->body)["id"];
}

double health_check_ms(int port) {
  auto start = Clock::now();
  auto answer = raw_http(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return status_line(answer) == "HTTP/1.1 200 OK" ? ms : 1e9;
}

// Item 1 and 2: a body is judged before it is read, and counted as it is read, chunked or not.
TEST(Door, FloodedBodiesAreRefusedWithinTheirBudgets) {
  Service service(
      {.workers = 0, .settings = {{"MSAAS_MAX_UPLOAD_BYTES", std::to_string(16 << 20)}}});
  int port = service.api->port();
  const size_t flood = 200u << 20;
  EXPECT_EQ(
      send_chunked(port, "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                   "x", flood),
      "HTTP/1.1 413 Payload Too Large");
  EXPECT_EQ(send_chunked(port,
                         "POST /apiv1/separate HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         "application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                         "{\"mp3\": \"", flood),
            "HTTP/1.1 413 Payload Too Large");
  EXPECT_EQ(send_chunked(port,
                         "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: audio/mpeg\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n",
                         "ID3", flood),
            "HTTP/1.1 413 Payload Too Large");
  // "Expect: 100-continue" on a body the door refuses: the refusal comes instead of the go-ahead.
  auto expecting = raw_http(port,
                            "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                            "Content-Length: 209715200\r\n\r\n",
                            false, 3);
  EXPECT_EQ(status_line(expecting), "HTTP/1.1 413 Payload Too Large") << expecting;
  // A chunk-size line that never ends (cpp-httplib's line reader would grow it without end).
  RawConnection endless_chunk(port);
  endless_chunk.send_text(
      "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
      std::string(16 * 1024, 'x'));  // far below the upload's budget: only the line cap stops it
  EXPECT_EQ(status_line(endless_chunk.read_all(5)), "HTTP/1.1 413 Payload Too Large");
  // A compressed body: cpp-httplib would inflate it into memory (64 KiB of gzip, 64 MiB).
  auto gzipped = raw_http(port,
                          "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
                          "Content-Length: 20\r\n\r\n" +
                              std::string(20, '\0'));
  EXPECT_EQ(status_line(gzipped), "HTTP/1.1 415 Unsupported Media Type") << gzipped;
  auto announced = raw_http(
      port, "GET /v1/queue HTTP/1.1\r\nHost: x\r\nContent-Length: 209715200\r\n\r\n", false, 5);
  EXPECT_EQ(status_line(announced), "HTTP/1.1 413 Payload Too Large");
  EXPECT_NE(announced.find("takes no body"), std::string::npos) << announced;
  // A form may carry the file and a few settings, not a thousand fields.
  std::string form;
  for (int i = 0; i < 40; ++i)
    form +=
        "--b\r\nContent-Disposition: form-data; name=\"f" + std::to_string(i) + "\"\r\n\r\nx\r\n";
  auto client = service.api->client();
  auto fields = client.Post("/v1/jobs", form + "--b--\r\n", "multipart/form-data; boundary=b");
  EXPECT_EQ(fields->status, 413) << fields->body;
  EXPECT_NE(fields->body.find("more than 16 parts"), std::string::npos) << fields->body;

  // A real song, chunked, to the original API: taken (its JSON is read as it streams).
  TempDir dir;
  std::string mp3 = read_file(mp3_song(dir, 2, 440, "song.mp3"));
  std::string encoded = base64_of(mp3);
  RawConnection chunked(port);
  chunked.send_text(
      "POST /apiv1/separate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
  std::string json_text = "{\"mp3\": \"" + encoded + "\"}";
  for (size_t at = 0; at < json_text.size(); at += 1000) {
    std::string piece = json_text.substr(at, 1000);
    char size[32];
    snprintf(size, sizeof size, "%zx\r\n", piece.size());
    chunked.send_text(size + piece + "\r\n");
  }
  chunked.send_text("0\r\n\r\n");
  auto taken = chunked.read_all(10);
  EXPECT_EQ(status_line(taken), "HTTP/1.1 200 OK") << taken;
  EXPECT_NE(taken.find("Song enqueued for separation"), std::string::npos) << taken;

  double peak = peak_rss_mib(service.api->pid());
  std::cout << "the API's peak resident memory after three 200 MiB floods: " << peak << " MiB\n";
  EXPECT_LT(peak, 128) << "MiB at the API's peak";
  EXPECT_EQ(get_json(client, "/healthz")["status"], "ok");  // and it goes on serving
}

// A body nobody read is never taken for the next request on the connection (request
// smuggling): the connection is closed after the answer instead.
TEST(Door, AnUnreadBodyIsNotTakenForTheNextRequest) {
  Service service({.workers = 0});
  std::string hidden = "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n";
  for (std::string head : {"GET /v1/queue HTTP/1.1\r\nHost: x\r\nContent-Length: ",
                           "POST /v1/nosuchroute HTTP/1.1\r\nHost: x\r\nContent-Length: "}) {
    auto answer =
        raw_http(service.api->port(), head + std::to_string(hidden.size()) + "\r\n\r\n" + hidden);
    size_t answers = 0;
    for (size_t at = answer.find("HTTP/1.1 "); at != std::string::npos;
         at = answer.find("HTTP/1.1 ", at + 1))
      ++answers;
    EXPECT_EQ(answers, 1u) << answer;
    EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  }
  // Framing read one way here and another by a proxy is refused, not guessed at.
  auto framed = [&](const std::string& headers) {
    return status_line(raw_http(
        service.api->port(), "GET /v1/queue HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n" + hidden));
  };
  EXPECT_EQ(framed("Content-Length: +40\r\n"), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(framed("Content-Length: 40\r\nContent-Length: 41\r\n"), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(framed("Content-Length: 40\r\nTransfer-Encoding: chunked\r\n"),
            "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(framed("Transfer-Encoding: gzip, chunked\r\n"), "HTTP/1.1 501 Not Implemented");
  // Successes without a body keep the connection for the next request, pipelined or not.
  auto two = raw_http(service.api->port(),
                      "GET /v1/queue HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(two.find("HTTP/1.1 200 OK"), 0u) << two;
  EXPECT_NE(two.find("HTTP/1.1 200 OK", 10), std::string::npos) << two;
}

// Item 3: a head is at most 32 KiB and must arrive whole within MSAAS_HEAD_TIMEOUT_SECONDS,
// however the client spaces its bytes.
TEST(Door, RequestHeadsHaveASizeAndATimeLimit) {
  Service service({.workers = 0, .settings = {{"MSAAS_HEAD_TIMEOUT_SECONDS", "2"}}});
  int port = service.api->port();
  std::string many_headers = "GET /v1/queue HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 40; ++i)
    many_headers += "X-Pad-" + std::to_string(i) + ": " + std::string(1000, 'p') + "\r\n";
  auto big = raw_http(port, many_headers + "\r\n");
  EXPECT_EQ(status_line(big), "HTTP/1.1 431 Request Header Fields Too Large") << big.substr(0, 200);
  EXPECT_NE(big.find("{\"error\":"), std::string::npos);

  std::string many_lines = "GET /v1/queue HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 300; ++i) many_lines += "a: b\r\n";  // short lines, each a map entry
  EXPECT_EQ(status_line(raw_http(port, many_lines + "\r\n")),
            "HTTP/1.1 431 Request Header Fields Too Large");

  // One endless header line: httplib would grow its line buffer without end.
  RawConnection endless(port);
  endless.send_text("GET /v1/queue HTTP/1.1\r\nX-Endless: ");
  std::string line(1 << 20, 'e');
  for (int i = 0; i < 64 && endless.send_some(line, 1); ++i) {
  }
  EXPECT_EQ(status_line(endless.read_all(5)), "HTTP/1.1 431 Request Header Fields Too Large");
  auto url_over_8k =
      raw_http(port, "GET /v1/jobs/" + std::string(10000, 'a') + " HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_line(url_over_8k), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_NE(url_over_8k.find("Connection: close"), std::string::npos) << url_over_8k;
  auto long_url = raw_http(port, "GET /v1/jobs/" + std::string(40000, 'a') + " HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_line(long_url), "HTTP/1.1 431 Request Header Fields Too Large");

  // A head trickled a header every half second, each read well within the read timeout: cut
  // off at the head's deadline.
  RawConnection trickle(port);
  trickle.send_text("GET /v1/queue HTTP/1.1\r\nHost: x\r\n");
  auto start = Clock::now();
  std::string answer;
  for (int i = 0; i < 20 && answer.empty(); ++i) {
    trickle.send_text("X-Trickle-" + std::to_string(i) + ": 1\r\n");
    answer = trickle.read_some(0.5);
  }
  answer += trickle.read_all(2);
  double cut_after = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(status_line(answer), "HTTP/1.1 408 Request Timeout") << answer;
  EXPECT_LT(cut_after, 4.0);
  auto client = service.api->client();
  EXPECT_EQ(get_json(client, "/v1/queue")["waiting"], 0);  // others were served throughout
}

// Item 3: caps per client address (connections) and per client (event streams), 503 with
// Retry-After beyond them; health checks are answered even on a connection over a cap.
TEST(Door, ConnectionsAndEventStreamsOverTheirCapsGet503) {
  Service service({.workers = 0,
                   .settings = {{"MSAAS_MAX_CONNECTIONS_PER_ADDRESS", "4"},
                                {"MSAAS_MAX_EVENT_STREAMS_PER_CLIENT", "2"}}});
  int port = service.api->port();
  TempDir dir;
  std::string id = queued_job(service, dir);

  auto first = open_stream(port, "127.0.0.2", id);
  auto second = open_stream(port, "127.0.0.2", id);
  std::string refused;
  auto third = open_stream(port, "127.0.0.2", id, &refused);
  EXPECT_EQ(status_line(refused), "HTTP/1.1 503 Service Unavailable") << refused;
  EXPECT_NE(refused.find("Retry-After: "), std::string::npos) << refused;
  std::string other;
  auto elsewhere = open_stream(port, "127.0.0.3", id, &other);
  EXPECT_NE(other.find("event: progress"), std::string::npos) << other;
  // A stream whose client hung up gives its place back within a second or two.
  first.reset();
  std::string again;
  EXPECT_TRUE(eventually(5, [&] {
    auto retry = open_stream(port, "127.0.0.2", id, &again);
    return again.find("event: progress") != std::string::npos;
  })) << again;

  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(std::make_unique<RawConnection>(port, "127.0.0.4"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  RawConnection over(port, "127.0.0.4");
  over.send_text("GET /v1/queue HTTP/1.1\r\nHost: x\r\n\r\n");
  auto busy = over.read_all(5);
  EXPECT_EQ(status_line(busy), "HTTP/1.1 503 Service Unavailable") << busy;
  EXPECT_NE(busy.find("Retry-After: "), std::string::npos) << busy;
  RawConnection probe(port, "127.0.0.4");
  probe.send_text("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_line(probe.read_all(5)), "HTTP/1.1 200 OK");
}

// With every connection place taken and a flood of silent connections over the cap, health
// checks are still answered quickly (read from a connection's first bytes) and the rest get 503
// at once; event streams are capped in all, too.
TEST(Door, HealthChecksAreAnsweredOverTheConnectionCap) {
  Service service({.workers = 0,
                   .settings = {{"MSAAS_MAX_CONNECTIONS", "16"},
                                {"MSAAS_MAX_CONNECTIONS_PER_ADDRESS", "0"},
                                {"MSAAS_MAX_EVENT_STREAMS", "2"},
                                // The held heads must outlive the test, even when a sanitizer
                                // build takes over 10 s (the default) to open the flood.
                                {"MSAAS_HEAD_TIMEOUT_SECONDS", "120"}}});
  int port = service.api->port();
  TempDir dir;
  std::string id = queued_job(service, dir);
  auto first = open_stream(port, "127.0.0.2", id);
  auto second = open_stream(port, "127.0.0.3", id);
  std::string refused;
  auto third = open_stream(port, "127.0.0.4", id, &refused);
  EXPECT_EQ(status_line(refused), "HTTP/1.1 503 Service Unavailable") << refused;

  std::vector<std::unique_ptr<RawConnection>> held, flood;
  for (int i = 0; i < 16; ++i) {
    held.push_back(std::make_unique<RawConnection>(port, "127.0.2.1"));
    held.back()->send_text("GET /v1/queue HTTP/1.1\r\n");  // and the rest never comes
  }
  for (int i = 0; i < 300; ++i)
    flood.push_back(std::make_unique<RawConnection>(port, "127.0.3." + std::to_string(1 + i / 50)));
  std::vector<double> latencies;
  for (int i = 0; i < 10; ++i) latencies.push_back(health_check_ms(port));
  std::sort(latencies.begin(), latencies.end());
  std::cout << "16 places held, 300 silent connections over the cap: /healthz median "
            << latencies[5] << " ms, worst " << latencies.back() << " ms\n";
  // Nine in ten within 100 ms, and every one answered within 2 s: under the sanitizers, with
  // the flood still being accepted, one check in ten has been seen to take a whole second (a
  // connection attempt retried after the kernel's 1 s timeout), which no probe here minds.
  EXPECT_LT(latencies[8], 100.0) << "ms for the second slowest health check";
  EXPECT_LT(latencies.back(), 2000.0) << "ms for the slowest health check";
  auto busy = raw_http(port, "GET /v1/queue HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_line(busy), "HTTP/1.1 503 Service Unavailable") << busy;
  EXPECT_NE(busy.find("Retry-After: "), std::string::npos) << busy;
}

// The figures: 300 slow-head clients and 100 open event streams at once (from
// different addresses, within the per-client caps), while /healthz answers within 100 ms, an
// upload is taken, and the streams cost Redis one read per job per tick, not one per stream.
TEST(Door, SlowClientsAndOpenStreamsLeaveHealthChecksAndUploadsServed) {
  Service service({.workers = 0, .settings = {{"MSAAS_HEAD_TIMEOUT_SECONDS", "60"}}});
  int port = service.api->port();
  auto client = service.api->client();
  TempDir dir;
  std::string id = queued_job(service, dir);

  std::vector<std::unique_ptr<RawConnection>> streams, slow;
  for (int i = 0; i < 100; ++i) {
    std::string answer;
    streams.push_back(open_stream(port, "127.0.0." + std::to_string(2 + i / 25), id, &answer));
    ASSERT_NE(answer.find("event: progress"), std::string::npos) << i << ": " << answer;
  }
  for (int i = 0; i < 300; ++i) {
    slow.push_back(std::make_unique<RawConnection>(port, "127.0.1." + std::to_string(1 + i / 30)));
    slow.back()->send_text("GET /v1/queue HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  long long reads_before = redis_calls(service.redis, "hgetall");
  std::vector<double> latencies;
  for (int round = 0; round < 20; ++round) {
    for (auto& s : slow) s->send_text("s");  // a byte each, well within the read timeout
    latencies.push_back(health_check_ms(port));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  long long stream_reads = redis_calls(service.redis, "hgetall") - reads_before;
  auto upload =
      client.Post("/v1/jobs", read_file(mp3_song(dir, 3, 440, "other.mp3")), "audio/mpeg");
  EXPECT_EQ(upload->status, 201) << upload->body;
  int still_open = 0;  // the slow heads were held all along, not refused
  for (auto& s : slow) still_open += s->send_some("s", 1) && s->read_some(0.001).empty();
  EXPECT_EQ(still_open, 300);

  std::sort(latencies.begin(), latencies.end());
  pid_t api = service.api->pid();
  std::cout << "with 300 slow heads and 100 event streams open: /healthz median "
            << latencies[latencies.size() / 2] << " ms, worst " << latencies.back()
            << " ms; API threads " << proc_status_value(api, "Threads") << ", resident "
            << proc_status_value(api, "VmRSS") / 1024 << " MiB (peak "
            << proc_status_value(api, "VmHWM") / 1024
            << " MiB); Redis job reads in 4 s: " << stream_reads << "\n";
  // Nine in ten within 100 ms, and every one answered within 2 s: under the sanitizers, with
  // the flood still being accepted, one check in ten has been seen to take a whole second (a
  // connection attempt retried after the kernel's 1 s timeout), which no probe here minds.
  EXPECT_LT(latencies[8], 100.0) << "ms for the second slowest health check";
  EXPECT_LT(latencies.back(), 2000.0) << "ms for the slowest health check";
  // 100 streams polling every 200 ms would be 2000 reads in 4 s; one watcher reads ~20.
  EXPECT_LT(stream_reads, 200);
  for (auto& s : streams) {
    std::string more = s->read_some(0.01);
    (void)more;
  }
}

}  // namespace
}  // namespace msaas::test

// tests/door_parts_test.cpp: the door's parts on their own (api/connection_stream.h,
// api/concurrency_caps.h): a connection's byte, line and time limits over a real socket pair,
// client keys (an IPv6 /64 is one client), and the caps in all and per client.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "api/concurrency_caps.h"
#include "api/connection_stream.h"

namespace msaas::api {
namespace {

using Clock = std::chrono::steady_clock;

struct SocketPair {
  int ours = -1, theirs = -1;
  SocketPair() {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0) ours = fds[0], theirs = fds[1];
  }
  ~SocketPair() {
    close(ours);
    close(theirs);
  }
  void send(const std::string& text) const { (void)!::write(theirs, text.data(), text.size()); }
};

// Reads a byte at a time, as cpp-httplib reads lines, until an error or `most` bytes.
size_t read_bytewise(ConnectionStream& stream, size_t most) {
  size_t got = 0;
  char c;
  while (got < most && stream.read(&c, 1) == 1) ++got;
  return got;
}

TEST(DoorParts, AStreamStopsAtItsByteBudget) {
  SocketPair pair;
  std::atomic<int> server{3};
  ConnectionStream stream(pair.ours, 5, 5, server);
  pair.send(std::string(100, 'a'));
  stream.limit_reading(60, Clock::now() + std::chrono::seconds(5));
  char buffer[100];
  EXPECT_EQ(stream.read(buffer, sizeof buffer), 60);
  EXPECT_EQ(stream.read(buffer, sizeof buffer), -1);
  EXPECT_TRUE(stream.over_budget());
  EXPECT_EQ(stream.bytes_read(), 60u);
}

TEST(DoorParts, ALineReadAByteAtATimeStopsAt8KiBAndAHeadAtItsLineCount) {
  SocketPair pair;
  std::atomic<int> server{3};
  ConnectionStream stream(pair.ours, 5, 5, server);
  pair.send(std::string(9000, 'x'));
  stream.limit_reading(1 << 20, Clock::now() + std::chrono::seconds(5));
  EXPECT_EQ(read_bytewise(stream, 9000), ConnectionStream::kLongestLine);
  EXPECT_TRUE(stream.over_budget());

  SocketPair lines;
  ConnectionStream head(lines.ours, 5, 5, server);
  std::string many;
  for (int i = 0; i < 20; ++i) many += "a: b\r\n";
  lines.send(many);
  head.limit_reading(1 << 20, Clock::now() + std::chrono::seconds(5), 10);
  EXPECT_EQ(read_bytewise(head, many.size()), 11 * 6u - 1);  // fails on the 11th newline
  EXPECT_TRUE(head.over_budget());

  // Body data read in blocks is not a line, however long.
  SocketPair body;
  ConnectionStream block(body.ours, 5, 5, server);
  body.send(std::string(20000, 'y'));
  block.limit_reading(1 << 20, Clock::now() + std::chrono::seconds(5));
  char buffer[4096];
  size_t got = 0;
  for (ssize_t n; got < 20000 && (n = block.read(buffer, sizeof buffer)) > 0;) got += n;
  EXPECT_EQ(got, 20000u);
  EXPECT_FALSE(block.over_budget());
}

TEST(DoorParts, BytesThatKeepComingDoNotStretchTheDeadline) {
  SocketPair pair;
  std::atomic<int> server{3};
  ConnectionStream stream(pair.ours, 5, 5, server);
  stream.limit_reading(1 << 20, Clock::now() + std::chrono::milliseconds(300));
  std::thread trickle([&] {
    for (int i = 0; i < 20; ++i) {
      pair.send("z");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  auto start = Clock::now();
  size_t got = read_bytewise(stream, 100);
  double waited = std::chrono::duration<double>(Clock::now() - start).count();
  trickle.join();
  EXPECT_TRUE(stream.past_deadline());
  EXPECT_LT(got, 10u);
  EXPECT_LT(waited, 0.5);
}

TEST(DoorParts, AnIpv6ClientIsItsSlash64) {
  EXPECT_EQ(client_key("203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(client_key("2001:db8:1:2::1"), client_key("2001:db8:1:2:ffff::9"));
  EXPECT_NE(client_key("2001:db8:1:2::1"), client_key("2001:db8:1:3::1"));
  EXPECT_EQ(client_key("::ffff:203.0.113.7"), "::ffff:203.0.113.7");
}

TEST(DoorParts, CapsHoldInAllAndPerClientAndPlacesComeBack) {
  ConcurrencyCaps caps(3, 2);
  auto a1 = caps.take("a"), a2 = caps.take("a");
  EXPECT_TRUE(a1 && a2);
  EXPECT_FALSE(caps.take("a"));  // the client's own cap
  auto b1 = caps.take("b");
  EXPECT_TRUE(b1);
  EXPECT_FALSE(caps.take("c"));  // the total
  a1.reset();
  EXPECT_EQ(caps.in_use(), 2);
  EXPECT_TRUE(caps.take("c"));
  ConcurrencyCaps no_client_cap(10, 0);
  std::vector<std::unique_ptr<ConcurrencyCaps::Ticket>> held;
  for (int i = 0; i < 10; ++i) held.push_back(no_client_cap.take("same"));
  EXPECT_TRUE(held.back());
  EXPECT_FALSE(no_client_cap.take("same"));
}

}  // namespace
}  // namespace msaas::api

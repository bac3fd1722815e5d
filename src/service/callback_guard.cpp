// service/callback_guard.cpp: see callback_guard.h.
#include "service/callback_guard.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace msaas::service {

namespace {

bool ipv4_is_public(uint32_t a) {  // host byte order
  auto in = [a](uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); };
  return !(in(0x00000000, 8) ||                         // "this network"
           in(0x0a000000, 8) ||                         // 10/8 private
           in(0x64400000, 10) ||                        // 100.64/10 carrier-grade NAT
           in(0x7f000000, 8) ||                         // loopback
           in(0xa9fe0000, 16) ||                        // 169.254/16 link-local, metadata
           in(0xac100000, 12) ||                        // 172.16/12 private
           in(0xc0000000, 24) || in(0xc0000200, 24) ||  // IETF, TEST-NET-1
           in(0xc0a80000, 16) ||                        // 192.168/16 private
           in(0xc6120000, 15) ||                        // 198.18/15 benchmarking
           in(0xc6336400, 24) || in(0xcb007100, 24) ||  // TEST-NET-2, TEST-NET-3
           in(0xe0000000, 4) || in(0xf0000000, 4));     // multicast, reserved, broadcast
}

bool ipv6_is_public(const in6_addr& a) {
  const uint8_t* b = a.s6_addr;
  static const uint8_t zero[16] = {};
  if (std::memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1)) return false;  // ::, ::1
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) carry an IPv4 address.
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(b, mapped, 12) == 0 || std::memcmp(b, nat64, 12) == 0)
    return ipv4_is_public((uint32_t(b[12]) << 24) | (b[13] << 16) | (b[14] << 8) | b[15]);
  if ((b[0] & 0xfe) == 0xfc) return false;                  // fc00::/7 unique local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return false;  // fe80::/10 link-local
  if (b[0] == 0xff) return false;                           // multicast
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return false;  // docs
  // 6to4 (2002::/16) and Teredo (2001::/32) carry IPv4 addresses a relay would reach.
  if (b[0] == 0x20 && b[1] == 0x02) return false;
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) return false;
  return (b[0] & 0xe0) == 0x20;  // 2000::/3: the global unicast space
}

std::string url_part(CURLU* url, CURLUPart part) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, CURLU_DEFAULT_PORT) != CURLUE_OK || !value) return "";
  std::string text = value;
  curl_free(value);
  return text;
}

bool is_address(const std::string& host) {
  in_addr v4{};
  in6_addr v6{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

}  // namespace

bool is_public_address(const std::string& address) {
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return ipv4_is_public(ntohl(v4.s_addr));
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) return ipv6_is_public(v6);
  return false;
}

CallbackCheck check_callback_url(const std::string& text, bool allow_private) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> url(curl_url(), curl_url_cleanup);
  if (curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK)
    return {std::nullopt, "not a URL"};
  std::string scheme = url_part(url.get(), CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https") return {std::nullopt, "only http and https"};
  std::string host = url_part(url.get(), CURLUPART_HOST);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = std::atoi(url_part(url.get(), CURLUPART_PORT).c_str());
  if (host.empty() || port <= 0) return {std::nullopt, "no host"};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int failed = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (failed != 0 || !found)
    return {std::nullopt, "cannot resolve " + host + ": " + gai_strerror(failed),
            failed == EAI_AGAIN || failed == EAI_SYSTEM};
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, freeaddrinfo);
  // Every address the name has must pass: a name with one public and one private address
  // could otherwise be used to reach the private one.
  CallbackTarget target{host, port, is_address(host), {}};
  for (addrinfo* a = found; a; a = a->ai_next) {
    char buffer[INET6_ADDRSTRLEN] = {};
    const void* raw =
        a->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
    if (!inet_ntop(a->ai_family, raw, buffer, sizeof buffer)) continue;
    if (!allow_private && !is_public_address(buffer))
      return {std::nullopt, host + " resolves to " + buffer +
                                ", not a public address (MSAAS_CALLBACK_ALLOW_PRIVATE=1 allows "
                                "private ones)"};
    if (std::find(target.addresses.begin(), target.addresses.end(), buffer) ==
        target.addresses.end())
      target.addresses.push_back(buffer);
  }
  if (target.addresses.empty()) return {std::nullopt, "cannot resolve " + host, true};
  return {target, ""};
}

std::string CallbackTarget::pin() const {
  std::string entry = host + ":" + std::to_string(port) + ":";
  for (size_t i = 0; i < addresses.size(); ++i) {
    bool v6 = addresses[i].find(':') != std::string::npos;
    entry += (i ? "," : "") + (v6 ? "[" + addresses[i] + "]" : addresses[i]);
  }
  return entry;
}

}  // namespace msaas::service

// tests/callback_guard_test.cpp: where callbacks may go (service/callback_guard.h): public
// unicast addresses only, checked after resolution, unless private ranges are allowed.
#include "service/callback_guard.h"

#include <gtest/gtest.h>

namespace msaas::test {
namespace {

using service::check_callback_url;

TEST(CallbackGuard, RefusesLoopbackPrivateLinkLocalAndMetadataTargets) {
  for (const char* url :
       {"http://127.0.0.1:8080/cb", "http://10.0.0.1/cb", "http://172.20.1.2/",
        "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/",
        "http://0.0.0.0/", "http://[::1]:8080/cb", "http://[fe80::1]/", "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/", "http://localhost:8080/cb", "http://0x7f000001/",
        "http://2130706433/", "http://224.0.0.1/"}) {
    auto check = check_callback_url(url, false);
    EXPECT_FALSE(check.target) << url;
    EXPECT_FALSE(check.refusal.empty()) << url;
  }
  for (const char* url : {"ftp://93.184.216.34/", "file:///etc/passwd", "gopher://x/", "not a url"})
    EXPECT_FALSE(check_callback_url(url, false).target) << url;
  EXPECT_FALSE(check_callback_url("http://no-such-host.invalid/", false).target);
}

TEST(CallbackGuard, AcceptsPublicAddressesAndPinsTheCheckedOne) {
  auto v4 = check_callback_url("https://93.184.216.34/hook?x=1", false);
  ASSERT_TRUE(v4.target) << v4.refusal;
  EXPECT_EQ(v4.target->addresses, std::vector<std::string>{"93.184.216.34"});
  EXPECT_EQ(v4.target->port, 443);
  EXPECT_TRUE(v4.target->literal);
  auto v6 = check_callback_url("http://[2606:2800:220:1:248:1893:25c8:1946]:8080/", false);
  ASSERT_TRUE(v6.target) << v6.refusal;
  EXPECT_EQ(v6.target->host, "2606:2800:220:1:248:1893:25c8:1946");
  EXPECT_EQ(v6.target->port, 8080);
}

TEST(CallbackGuard, PrivateRangesWhenTheOperatorAllowsThem) {
  auto local = check_callback_url("http://localhost:9000/cb", true);
  ASSERT_TRUE(local.target) << local.refusal;
  EXPECT_FALSE(local.target->literal);
  // Every address the name has is pinned (curl falls back between them), IPv6 in brackets.
  auto pin = local.target->pin();
  EXPECT_EQ(pin.rfind("localhost:9000:", 0), 0u) << pin;
  EXPECT_NE(pin.find("127.0.0.1"), std::string::npos) << pin;
  EXPECT_FALSE(check_callback_url("ftp://127.0.0.1/", true).target);  // still http(s) only
}

TEST(CallbackGuard, ClassifiesAddresses) {
  EXPECT_TRUE(service::is_public_address("8.8.8.8"));
  EXPECT_TRUE(service::is_public_address("2001:4860:4860::8888"));
  EXPECT_FALSE(service::is_public_address("169.254.169.254"));
  EXPECT_FALSE(service::is_public_address("64:ff9b::a00:1"));       // NAT64 of 10.0.0.1
  EXPECT_FALSE(service::is_public_address("2001:db8::1"));          // documentation
  EXPECT_FALSE(service::is_public_address("2002:a00:1::"));         // 6to4 of 10.0.0.1
  EXPECT_FALSE(service::is_public_address("2001:0:4136:e378::1"));  // Teredo
  EXPECT_FALSE(service::is_public_address("not an address"));
}

}  // namespace
}  // namespace msaas::test

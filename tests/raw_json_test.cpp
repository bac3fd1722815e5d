// tests/raw_json_test.cpp: a member's value as the text it was written as (queue/raw_json.h).
#include "queue/raw_json.h"

#include <gtest/gtest.h>

namespace msaas::test {
namespace {

using queue::raw_member;

TEST(RawJson, FindsAMembersTextAsWritten) {
  std::string text =
      R"( { "mp3" : "a\"}b", "callback": {"url": "u", "data": { "x" : [1, 2.50, "]"], )"
      R"("big": 123456789012345678901234567890 } }, "n": -1e3 } )";
  auto callback = raw_member(text, "callback");
  ASSERT_TRUE(callback);
  EXPECT_EQ(*raw_member(*callback, "data"),
            R"({ "x" : [1, 2.50, "]"], "big": 123456789012345678901234567890 })");
  EXPECT_EQ(*raw_member(text, "n"), "-1e3");
  EXPECT_EQ(*raw_member(text, "mp3"), R"("a\"}b")");
  EXPECT_FALSE(raw_member(text, "missing"));
  EXPECT_FALSE(raw_member("[1, 2]", "x"));
}

TEST(RawJson, EscapedKeysDuplicatesAndAByteOrderMark) {
  EXPECT_EQ(*raw_member(R"({"d\u0061ta": true})", "data"), "true");
  EXPECT_EQ(*raw_member(R"({"data": 1, "data": [2]})", "data"), "[2]");  // the last one wins
  EXPECT_EQ(*raw_member("\xEF\xBB\xBF{\"data\": null}", "data"), "null");
}

}  // namespace
}  // namespace msaas::test

// The checkpoint pickle reader: what it accepts, and that it refuses everything else cleanly.
#include "demucs/pickle.h"

#include <gtest/gtest.h>

#include <cstring>

#include "support.h"

namespace msaas::demucs::pickle {
namespace {

// Builds pickles opcode by opcode.
struct Bytes {
  std::string s = "\x80\x02";
  Bytes& op(char c) {
    s += c;
    return *this;
  }
  Bytes& str(const std::string& text) {
    s += 'X';
    uint32_t n = text.size();
    s.append(reinterpret_cast<const char*>(&n), 4);
    s += text;
    return *this;
  }
  Bytes& small(uint8_t v) {
    s += 'K';
    s += static_cast<char>(v);
    return *this;
  }
  Bytes& real(double v) {
    s += 'G';
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    for (int i = 7; i >= 0; --i) s += static_cast<char>((bits >> (8 * i)) & 0xff);
    return *this;
  }
  Bytes& global(const std::string& module, const std::string& name) {
    s += 'c' + module + '\n' + name + '\n';
    return *this;
  }
  ValuePtr load() const {
    return pickle::load(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
};

TEST(Pickle, ReadsDictsListsNumbersStringsAndConstants) {
  Bytes b;
  b.op('}').op('(').str("list").op(']').op('(').small(7).real(2.5).str("x").op('N').op('\x88');
  b.op('e').str("neg").op('J').s += std::string("\xfe\xff\xff\xff", 4);
  b.op('u').op('.');
  auto v = b.load();
  ASSERT_TRUE(v->is(Value::Kind::dict));
  auto list = v->get("list");
  ASSERT_TRUE(list && list->is(Value::Kind::list));
  ASSERT_EQ(list->items.size(), 5u);
  EXPECT_EQ(list->items[0]->integer, 7);
  EXPECT_DOUBLE_EQ(list->items[1]->real, 2.5);
  EXPECT_EQ(list->items[2]->text, "x");
  EXPECT_TRUE(list->items[3]->is(Value::Kind::none));
  EXPECT_TRUE(list->items[4]->boolean);
  EXPECT_EQ(v->get("neg")->integer, -2);
  EXPECT_EQ(v->get("missing"), nullptr);
}

TEST(Pickle, ReadsFractionsInBothForms) {
  Bytes a;
  a.global("fractions", "Fraction").small(39).small(5).op('\x86').op('R').op('.');
  auto f = a.load();
  ASSERT_TRUE(f->is(Value::Kind::fraction));
  EXPECT_EQ(f->integer, 39);
  EXPECT_EQ(f->denominator, 5);
  EXPECT_DOUBLE_EQ(f->as_number(), 7.8);
  Bytes b;
  b.global("fractions", "Fraction").str("39/5").op('\x85').op('R').op('.');
  EXPECT_DOUBLE_EQ(b.load()->as_number(), 7.8);
}

TEST(Pickle, MemoSharesObjects) {
  Bytes b;
  b.op(']').op('q').s += '\x01';
  b.small(3).op('a').op('h').s += '\x01';
  b.op('\x86').op('.');
  auto t = b.load();
  ASSERT_EQ(t->items.size(), 2u);
  EXPECT_EQ(t->items[0], t->items[1]);
  EXPECT_EQ(t->items[1]->items.at(0)->integer, 3);
}

TEST(Pickle, RefusesArbitraryCallables) {
  Bytes b;
  b.global("os", "system").str("rm -rf /").op('\x85').op('R').op('.');
  test::expect_error<PickleError>([&] { b.load(); }, "os.system");
}

TEST(Pickle, RefusesUnknownOpcodes) {
  Bytes b;
  b.op('\x8f').op('.');  // EMPTY_SET
  EXPECT_THROW(b.load(), PickleError);
}

TEST(Pickle, RefusesTruncatedAndMalformedInput) {
  Bytes b;
  b.op('}').op('(').str("key");
  EXPECT_THROW(b.load(), PickleError);  // no STOP
  std::string cut = Bytes().str("abcdef").s;
  cut.resize(cut.size() - 3);
  EXPECT_THROW(pickle::load(reinterpret_cast<const uint8_t*>(cut.data()), cut.size()), PickleError);
  Bytes underflow;
  underflow.op('a').op('.');
  EXPECT_THROW(underflow.load(), PickleError);
  Bytes bad_memo;
  bad_memo.op('h').s += '\x09';
  EXPECT_THROW(bad_memo.load(), PickleError);
}

}  // namespace
}  // namespace msaas::demucs::pickle

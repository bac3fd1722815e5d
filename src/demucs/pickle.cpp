// demucs/pickle.cpp: a stack machine over the pickle opcodes that torch.save emits (protocol 2,
// with the common protocol 4 opcodes too). Reductions are interpreted, never executed: only the
// callables listed in reduce() are accepted.
#include "demucs/pickle.h"

#include <cstring>
#include <unordered_map>

namespace msaas::demucs::pickle {

ValuePtr Value::get(std::string_view name) const {
  if (kind != Kind::dict) return nullptr;
  for (const auto& [k, v] : entries)
    if (k->kind == Kind::string && k->text == name) return v;
  return nullptr;
}

double Value::as_number() const {
  switch (kind) {
    case Kind::integer:
      return static_cast<double>(integer);
    case Kind::real:
      return real;
    case Kind::boolean:
      return boolean ? 1.0 : 0.0;
    case Kind::fraction:
      return static_cast<double>(integer) / static_cast<double>(denominator);
    default:
      throw PickleError("expected a number, found " + describe());
  }
}

std::string Value::describe() const {
  static const char* names[] = {"None",  "bool", "int",   "float",    "str",     "list",
                                "tuple", "dict", "class", "Fraction", "storage", "tensor"};
  return names[static_cast<int>(kind)];
}

namespace {

ValuePtr make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

std::vector<int64_t> int_tuple(const ValuePtr& v, const char* what) {
  if (!v || !v->is(Value::Kind::tuple)) throw PickleError(std::string(what) + " is not a tuple");
  std::vector<int64_t> out;
  for (const auto& item : v->items) {
    if (!item->is(Value::Kind::integer)) throw PickleError(std::string(what) + " holds a non-int");
    out.push_back(item->integer);
  }
  return out;
}

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  ValuePtr run() {
    for (;;) {
      uint8_t op = byte();
      switch (op) {
        case 0x80:
          byte();
          break;  // PROTO
        case 0x95:
          bytes(8);
          break;  // FRAME (protocol 4): length, ignored
        case '.':
          return finish();  // STOP
        case '(':
          marks_.push_back(stack_.size());
          break;  // MARK
        case '}':
          push(make(Value::Kind::dict));
          break;
        case ']':
          push(make(Value::Kind::list));
          break;
        case ')':
          push(make(Value::Kind::tuple));
          break;
        case 'N':
          push(make(Value::Kind::none));
          break;
        case 0x88:
          push(boolean(true));
          break;
        case 0x89:
          push(boolean(false));
          break;
        case 'K':
          push(integer(byte()));
          break;  // BININT1
        case 'M':
          push(integer(uint16()));
          break;  // BININT2
        case 'J':
          push(integer(static_cast<int32_t>(uint32())));
          break;  // BININT
        case 0x8a:
          push(integer(long1()));
          break;  // LONG1
        case 'G':
          push(real());
          break;  // BINFLOAT
        case 'X':
          push(string(uint32()));
          break;  // BINUNICODE
        case 0x8c:
          push(string(byte()));
          break;  // SHORT_BINUNICODE
        case 0x8d:
          push(string(uint64()));
          break;  // BINUNICODE8
        case 'T':
          push(string(uint32()));
          break;  // BINSTRING
        case 'U':
          push(string(byte()));
          break;  // SHORT_BINSTRING
        case 't':
          push(tuple(pop_mark()));
          break;
        case 0x85:
          push(tuple(pop_n(1)));
          break;
        case 0x86:
          push(tuple(pop_n(2)));
          break;
        case 0x87:
          push(tuple(pop_n(3)));
          break;
        case 'l': {
          auto v = make(Value::Kind::list);
          v->items = pop_mark();
          push(v);
          break;
        }
        case 'd': {
          auto v = make(Value::Kind::dict);
          set_items(v, pop_mark());
          push(v);
          break;
        }
        case 'a': {
          auto item = pop();
          append(top(), {item});
          break;
        }  // APPEND
        case 'e': {
          auto items = pop_mark();
          append(top(), items);
          break;
        }  // APPENDS
        case 's': {
          auto value = pop();
          auto key = pop();
          set_items(top(), {key, value});
          break;
        }
        case 'u': {
          auto items = pop_mark();
          set_items(top(), items);
          break;
        }  // SETITEMS
        case 'q':
          memo_[byte()] = top();
          break;  // BINPUT
        case 'r':
          memo_[uint32()] = top();
          break;  // LONG_BINPUT
        case 0x94:
          memo_[memo_.size()] = top();
          break;  // MEMOIZE
        case 'h':
          push(memo(byte()));
          break;  // BINGET
        case 'j':
          push(memo(uint32()));
          break;  // LONG_BINGET
        case 'c': {
          auto module = line();
          auto name = line();
          push(global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          auto name = pop(), module = pop();
          if (!name->is(Value::Kind::string) || !module->is(Value::Kind::string))
            throw PickleError("malformed class reference");
          push(global(module->text, name->text));
          break;
        }
        case 'R': {
          auto args = pop();
          auto callable = pop();
          push(reduce(callable, args));
          break;
        }
        case 0x81: {
          auto args = pop();
          auto cls = pop();
          push(reduce(cls, args));
          break;
        }  // NEWOBJ
        case 'b':
          pop();
          break;  // BUILD: state for an OrderedDict or similar; not needed
        case 'Q':
          push(persistent(pop()));
          break;  // BINPERSID
        default:
          throw PickleError("unsupported pickle opcode 0x" + hex(op) + " at byte " +
                            std::to_string(pos_ - 1));
      }
    }
  }

 private:
  static std::string hex(uint8_t b) {
    const char* digits = "0123456789abcdef";
    return {digits[b >> 4], digits[b & 15]};
  }
  const uint8_t* bytes(size_t n) {
    if (n > size_ - pos_) throw PickleError("pickle ends in the middle of an item");
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint8_t byte() { return *bytes(1); }
  uint16_t uint16() {
    auto p = bytes(2);
    return uint16_t(p[0] | (p[1] << 8));
  }
  uint32_t uint32() {
    uint32_t v;
    std::memcpy(&v, bytes(4), 4);
    return v;
  }
  uint64_t uint64() {
    uint64_t v;
    std::memcpy(&v, bytes(8), 8);
    return v;
  }
  int64_t long1() {
    size_t n = byte();
    if (n > 8) throw PickleError("integer too large in pickle");
    const uint8_t* p = bytes(n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t(0) << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  std::string line() {
    size_t start = pos_;
    while (pos_ < size_ && data_[pos_] != '\n') ++pos_;
    if (pos_ >= size_) throw PickleError("pickle ends inside a class name");
    return std::string(reinterpret_cast<const char*>(data_ + start), pos_++ - start);
  }

  ValuePtr boolean(bool b) {
    auto v = make(Value::Kind::boolean);
    v->boolean = b;
    return v;
  }
  ValuePtr integer(int64_t i) {
    auto v = make(Value::Kind::integer);
    v->integer = i;
    return v;
  }
  ValuePtr real() {
    auto p = bytes(8);
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];  // big-endian
    auto v = make(Value::Kind::real);
    std::memcpy(&v->real, &bits, 8);
    return v;
  }
  ValuePtr string(uint64_t n) {
    auto p = bytes(n);
    auto v = make(Value::Kind::string);
    v->text.assign(reinterpret_cast<const char*>(p), n);
    return v;
  }
  ValuePtr tuple(std::vector<ValuePtr> items) {
    auto v = make(Value::Kind::tuple);
    v->items = std::move(items);
    return v;
  }
  ValuePtr global(const std::string& module, const std::string& name) {
    auto v = make(Value::Kind::global);
    v->text = module + "." + name;
    return v;
  }

  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back()))
      throw PickleError("malformed pickle: stack underflow");
    auto v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.empty()) throw PickleError("malformed pickle: empty stack");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_n(size_t n) {
    std::vector<ValuePtr> out(n);
    for (size_t i = n; i-- > 0;) out[i] = pop();
    return out;
  }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) throw PickleError("malformed pickle: no mark");
    size_t mark = marks_.back();
    marks_.pop_back();
    if (mark > stack_.size()) throw PickleError("malformed pickle: bad mark");
    std::vector<ValuePtr> out(stack_.begin() + mark, stack_.end());
    stack_.resize(mark);
    return out;
  }
  ValuePtr memo(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) throw PickleError("malformed pickle: unknown memo entry");
    return it->second;
  }
  static void append(const ValuePtr& list, const std::vector<ValuePtr>& items) {
    if (!list->is(Value::Kind::list)) throw PickleError("malformed pickle: append to a non-list");
    list->items.insert(list->items.end(), items.begin(), items.end());
  }
  static void set_items(const ValuePtr& dict, const std::vector<ValuePtr>& items) {
    if (!dict->is(Value::Kind::dict)) throw PickleError("malformed pickle: setitem on a non-dict");
    if (items.size() % 2) throw PickleError("malformed pickle: odd number of dict items");
    for (size_t i = 0; i < items.size(); i += 2) dict->entries.emplace_back(items[i], items[i + 1]);
  }

  // ('storage', <dtype class>, key, location, numel) -> a storage reference.
  ValuePtr persistent(const ValuePtr& pid) {
    if (!pid->is(Value::Kind::tuple) || pid->items.size() < 5 ||
        !pid->items[0]->is(Value::Kind::string) || pid->items[0]->text != "storage" ||
        !pid->items[1]->is(Value::Kind::global) || !pid->items[2]->is(Value::Kind::string) ||
        !pid->items[4]->is(Value::Kind::integer))
      throw PickleError("unsupported persistent object in checkpoint");
    auto v = make(Value::Kind::storage);
    v->text = pid->items[1]->text;
    v->key = pid->items[2]->text;
    v->integer = pid->items[4]->integer;
    return v;
  }

  ValuePtr reduce(const ValuePtr& callable, const ValuePtr& args) {
    if (!callable->is(Value::Kind::global) || !args->is(Value::Kind::tuple))
      throw PickleError("malformed pickle: bad reduce");
    const std::string& name = callable->text;
    const auto& a = args->items;
    if (name == "collections.OrderedDict" && a.empty()) return make(Value::Kind::dict);
    if (name == "fractions.Fraction") return fraction(a);
    if (name == "torch._utils._rebuild_tensor_v2" && a.size() >= 4) {
      if (!a[0]->is(Value::Kind::storage) || !a[1]->is(Value::Kind::integer))
        throw PickleError("malformed tensor in checkpoint");
      auto t = make(Value::Kind::tensor);
      t->items = {a[0]};
      t->integer = a[1]->integer;
      t->sizes = int_tuple(a[2], "tensor size");
      t->strides = int_tuple(a[3], "tensor stride");
      if (t->sizes.size() != t->strides.size()) throw PickleError("tensor size/stride mismatch");
      return t;
    }
    if (name == "torch._utils._rebuild_parameter" && !a.empty() && a[0]->is(Value::Kind::tensor))
      return a[0];
    throw PickleError("checkpoint holds an object this reader does not accept: " + name);
  }

  static ValuePtr fraction(const std::vector<ValuePtr>& a) {
    auto v = make(Value::Kind::fraction);
    if (a.size() == 2 && a[0]->is(Value::Kind::integer) && a[1]->is(Value::Kind::integer)) {
      v->integer = a[0]->integer;
      v->denominator = a[1]->integer;
    } else if (a.size() == 1 && a[0]->is(Value::Kind::string)) {  // Fraction('39/5')
      const std::string& s = a[0]->text;
      size_t slash = s.find('/');
      try {
        v->integer = std::stoll(s.substr(0, slash));
        v->denominator = slash == std::string::npos ? 1 : std::stoll(s.substr(slash + 1));
      } catch (const std::exception&) {
        throw PickleError("malformed Fraction '" + s + "'");
      }
    } else {
      throw PickleError("malformed Fraction in checkpoint");
    }
    if (v->denominator <= 0) throw PickleError("Fraction with a non-positive denominator");
    return v;
  }

  ValuePtr finish() {
    if (stack_.size() != 1 || !marks_.empty()) throw PickleError("malformed pickle at STOP");
    return stack_.back();
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
};

}  // namespace

ValuePtr load(const uint8_t* data, size_t size) {
  return Unpickler(data, size).run();
}

}  // namespace msaas::demucs::pickle

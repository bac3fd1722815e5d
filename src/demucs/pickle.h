// demucs/pickle.h: a small, strict reader for the pickles inside official Demucs checkpoints.
// It understands dicts, lists, tuples, strings, numbers, None, booleans, class references,
// fractions.Fraction, OrderedDict and tensor storages; anything else is refused with a clear
// error, never executed.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace msaas::demucs::pickle {

class PickleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  enum class Kind {
    none,
    boolean,
    integer,
    real,
    string,
    list,
    tuple,
    dict,
    global,
    fraction,
    storage,
    tensor
  };
  Kind kind = Kind::none;
  bool boolean = false;
  int64_t integer = 0;      // integer; fraction numerator; tensor storage offset
  int64_t denominator = 1;  // fraction
  double real = 0.0;
  std::string text;             // string; "module.name" of a global; storage: dtype class name
  std::string key;              // storage: record name inside the archive
  std::vector<ValuePtr> items;  // list, tuple; tensor: [storage]
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // dict, in insertion order
  std::vector<int64_t> sizes, strides;                 // tensor

  bool is(Kind k) const { return kind == k; }
  // Dict lookup by string key; nullptr when absent or not a dict.
  ValuePtr get(std::string_view name) const;
  double as_number() const;      // integer, real, boolean or fraction
  std::string describe() const;  // short type name for error messages
};

// Parses one pickle. Throws PickleError on malformed or unsupported content.
ValuePtr load(const uint8_t* data, size_t size);

}  // namespace msaas::demucs::pickle

// demucs/states.cpp: see states.h. The zip container is read with libtorch's own
// PyTorchStreamReader; the pickle with our strict reader (pickle.h).
#include "demucs/states.h"

#include <caffe2/serialize/inline_container.h>
#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "common/digest.h"
#include "msaas/engine.h"

namespace msaas::demucs {
namespace {

at::ScalarType dtype_of(const std::string& storage_class) {
  static const std::map<std::string, at::ScalarType> types = {
      {"torch.HalfStorage", at::kHalf},     {"torch.FloatStorage", at::kFloat},
      {"torch.DoubleStorage", at::kDouble}, {"torch.BFloat16Storage", at::kBFloat16},
      {"torch.LongStorage", at::kLong},     {"torch.IntStorage", at::kInt},
      {"torch.BoolStorage", at::kBool},     {"torch.ByteStorage", at::kByte}};
  auto it = types.find(storage_class);
  if (it == types.end()) throw ModelError("unsupported tensor type " + storage_class);
  return it->second;
}

class TensorBuilder {
 public:
  explicit TensorBuilder(caffe2::serialize::PyTorchStreamReader& reader) : reader_(reader) {}

  at::Tensor build(const pickle::Value& t) {
    const pickle::Value& storage = *t.items.at(0);
    at::Tensor flat = storage_tensor(storage);
    int64_t extent = 1;  // one past the last element the view touches
    for (size_t i = 0; i < t.sizes.size(); ++i) {
      if (t.sizes[i] < 0 || t.strides[i] < 0) throw ModelError("negative tensor shape");
      if (t.sizes[i] == 0) extent = 0;
      if (extent) extent += (t.sizes[i] - 1) * t.strides[i];
    }
    if (t.integer < 0 || (extent && t.integer + extent > flat.numel()))
      throw ModelError("tensor points outside its storage");
    // float16 stays float16 (Weights converts where it is used); anything else becomes float32.
    auto type = flat.scalar_type() == at::kHalf ? at::kHalf : at::kFloat;
    return flat.as_strided(t.sizes, t.strides, t.integer).to(type).contiguous();
  }

 private:
  at::Tensor storage_tensor(const pickle::Value& storage) {
    auto it = cache_.find(storage.key);
    if (it != cache_.end()) return it->second;
    at::ScalarType dtype = dtype_of(storage.text);
    std::string record = "data/" + storage.key;
    if (!reader_.hasRecord(record)) throw ModelError("checkpoint misses storage " + record);
    auto [data, bytes] = reader_.getRecord(record);
    if (storage.integer < 0 || bytes != storage.integer * at::elementSize(dtype))
      throw ModelError("storage " + record + " has the wrong size");
    at::Tensor flat = at::empty({storage.integer}, at::TensorOptions().dtype(dtype));
    std::memcpy(flat.data_ptr(), data.get(), bytes);
    cache_.emplace(storage.key, flat);
    return flat;
  }

  caffe2::serialize::PyTorchStreamReader& reader_;
  std::map<std::string, at::Tensor> cache_;
};

std::string klass_name(const pickle::ValuePtr& klass) {
  if (!klass || !klass->is(pickle::Value::Kind::global))
    throw ModelError("checkpoint has no model class ('klass')");
  return klass->text;
}

}  // namespace

Package load_package(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw ModelError("no model file " + path);
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    if (!reader.hasRecord("data.pkl")) throw ModelError(path + " is not a PyTorch checkpoint");
    auto [data, size] = reader.getRecord("data.pkl");
    auto root = pickle::load(static_cast<const uint8_t*>(data.get()), size);
    if (!root->is(pickle::Value::Kind::dict)) throw ModelError(path + ": unexpected content");
    Package package;
    package.klass = klass_name(root->get("klass"));
    package.kwargs = root->get("kwargs");
    if (!package.kwargs || !package.kwargs->is(pickle::Value::Kind::dict))
      throw ModelError(path + ": checkpoint has no 'kwargs'");
    auto args = root->get("args");
    if (args && args->is(pickle::Value::Kind::tuple)) package.args = args->items;
    auto state = root->get("state");
    if (!state || !state->is(pickle::Value::Kind::dict))
      throw ModelError(path + ": checkpoint has no 'state'");
    if (state->get("__quantized"))
      throw ModelError(path + ": quantized (DiffQ) checkpoints are not supported");
    TensorBuilder builder(reader);
    for (const auto& [key, value] : state->entries) {
      if (!key->is(pickle::Value::Kind::string) || !value->is(pickle::Value::Kind::tensor))
        throw ModelError(path + ": state holds a " + value->describe() + ", not a tensor");
      package.state.emplace(key->text, builder.build(*value));
    }
    return package;
  } catch (const pickle::PickleError& e) {
    throw ModelError(path + ": " + e.what());
  } catch (const c10::Error& e) {
    throw ModelError(path + " is not a readable checkpoint (" + e.what_without_backtrace() + ")");
  }
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError("cannot read " + path);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), buffer.size());
    EVP_DigestUpdate(ctx.get(), buffer.data(), in.gcount());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  return common::to_hex(digest, length);
}

std::optional<std::string> named_checksum(const std::string& file_name) {
  static const std::regex named(R"(^[^-]+-([0-9a-f]{8})\.th$)");
  std::smatch match;
  if (!std::regex_match(file_name, match, named)) return std::nullopt;
  return match[1].str();
}

void check_checksum(const std::string& path) {
  auto expected = named_checksum(std::filesystem::path(path).filename().string());
  if (!expected) return;
  std::string actual = sha256_file(path).substr(0, 8);
  if (actual != *expected)
    throw ModelError("invalid checksum for " + path + ": expected " + *expected +
                     ", its SHA-256 starts with " + actual + " (damaged or incomplete download)");
}

}  // namespace msaas::demucs

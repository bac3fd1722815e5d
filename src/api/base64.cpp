// api/base64.cpp: see base64.h.
#include "api/base64.h"

namespace msaas::api {

namespace {

constexpr size_t kPiece = 64 * 1024;  // decoded bytes handed to the sink at a time

int symbol_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

bool Base64Decoder::feed(char c) {
  if (c == '\n' || c == '\r') return true;
  if (c == '=') {
    ++padding_;
    return true;
  }
  int v = symbol_value(c);
  if (v < 0 || padding_) return false;  // bad character, or data after padding
  bits_buffer_ = (bits_buffer_ << 6) | static_cast<unsigned>(v);
  bits_ += 6;
  ++symbols_;
  if (bits_ >= 8) {
    bits_ -= 8;
    pending_ += static_cast<char>((bits_buffer_ >> bits_) & 0xff);
    if (pending_.size() >= kPiece) return flush();
  }
  return true;
}

bool Base64Decoder::flush() {
  if (pending_.empty()) return true;
  decoded_ += pending_.size();
  bool more = sink_(pending_.data(), pending_.size());
  pending_.clear();
  if (!more) sink_stopped_ = true;
  return more;
}

bool Base64Decoder::finish() {
  if (symbols_ % 4 == 1 || padding_ > 2) return false;
  if (padding_ && (symbols_ + padding_) % 4 != 0) return false;
  return flush();
}

std::optional<std::string> decode_base64(const std::string& text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  Base64Decoder decoder([&out](const char* data, size_t size) {
    out.append(data, size);
    return true;
  });
  for (char c : text)
    if (!decoder.feed(c)) return std::nullopt;
  if (!decoder.finish()) return std::nullopt;
  return out;
}

}  // namespace msaas::api

// api/base64.h: decoding the original API's base64 `mp3` field, strictly: standard alphabet,
// optional padding, line breaks ignored; anything else is refused rather than guessed at. The
// decoder takes its text a character at a time, so a song is decoded as it arrives.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace msaas::api {

class Base64Decoder {
 public:
  // Receives the decoded bytes in pieces; returns false to stop (the song is too large).
  using Sink = std::function<bool(const char* data, size_t size)>;
  explicit Base64Decoder(Sink sink) : sink_(std::move(sink)) {}
  // False for a character base64 does not allow here, or when the sink stopped.
  bool feed(char c);
  // After the last character: false when the text ends where base64 cannot.
  bool finish();
  bool sink_stopped() const { return sink_stopped_; }
  size_t decoded() const { return decoded_; }

 private:
  bool flush();
  Sink sink_;
  std::string pending_;
  unsigned bits_buffer_ = 0;
  int bits_ = 0, symbols_ = 0, padding_ = 0;
  size_t decoded_ = 0;
  bool sink_stopped_ = false;
};

std::optional<std::string> decode_base64(const std::string& text);

}  // namespace msaas::api

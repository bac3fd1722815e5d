// api/base64.h: decoding the original API's base64 `mp3` field, strictly: standard alphabet,
// optional padding, line breaks ignored; anything else is refused rather than guessed at.
#pragma once

#include <optional>
#include <string>

namespace msaas::api {

std::optional<std::string> decode_base64(const std::string& text);

}  // namespace msaas::api

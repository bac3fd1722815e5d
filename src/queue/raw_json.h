// queue/raw_json.h: a member's value in JSON text, as the text itself. A caller's callback data
// is passed on byte for byte this way: parsing and printing it again would reorder its keys,
// rewrite its numbers (1.50, 1e3, integers past 64 bits) and change its escapes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace msaas::queue {

// The text of the value of `key` in the top-level object of `text` (valid JSON); nothing when
// `text` is not an object or has no such member. With duplicate keys the last one wins, as in
// the parser that validated the text.
std::optional<std::string_view> raw_member(std::string_view text, const std::string& key);

}  // namespace msaas::queue

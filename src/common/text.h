// common/text.h: lists in words, as the error messages say them: "a, b, c", or "a, b or c".
#pragma once

#include <string>
#include <vector>

namespace msaas::common {

// The items separated by ", ", with `last` before the final one (", " or " or ").
inline std::string joined(const std::vector<std::string>& items, const std::string& last = ", ") {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i)
    text += (i == 0 ? "" : i + 1 == items.size() ? last : ", ") + items[i];
  return text;
}

}  // namespace msaas::common

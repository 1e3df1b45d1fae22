#pragma once
// One rule for numbers that arrive as text from outside (ids in URLs, Content-Length, stored
// counters, command-line person ids): plain decimal digits, at most 18 of them (so the value fits
// int64 without overflow checks); anything else is not a number.
#include <cstdint>
#include <optional>
#include <string_view>

namespace facerec::detail {

inline std::optional<int64_t> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace facerec::detail

#include "server/text/word_case.h"

#include <unicode/uchar.h>

namespace ptune::text {

WordCase ClassifyWordCase(const char32_t* begin, const char32_t* end) {
  int cased = 0, upper = 0;
  bool first_upper = false;
  for (const char32_t* c = begin; c < end; ++c) {
    const bool is_upper = u_isUUppercase(static_cast<UChar32>(*c));
    if (!is_upper && !u_isULowercase(static_cast<UChar32>(*c))) continue;
    if (cased == 0) first_upper = is_upper;
    ++cased;
    upper += is_upper ? 1 : 0;
  }
  if (cased == 0) return WordCase::kNone;
  if (upper == 0) return WordCase::kLower;
  if (upper == cased) return cased == 1 ? WordCase::kTitle : WordCase::kUpper;
  if (upper == 1 && first_upper) return WordCase::kTitle;
  return WordCase::kMixed;
}

}  // namespace ptune::text

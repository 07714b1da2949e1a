#include "server/text/utf8.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ptune::text {
namespace {

absl::Status BadUtf8(size_t offset, absl::string_view what, uint8_t byte) {
  return absl::InvalidArgumentError(
      absl::StrFormat("text is not valid UTF-8: %s at byte offset %d (byte "
                      "0x%02X)",
                      what, offset, byte));
}

}  // namespace

absl::StatusOr<DecodedText> DecodeUtf8(absl::string_view text) {
  if (text.size() >= static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "text of ", text.size(), " bytes is too long (limit 2 GiB)"));
  }
  DecodedText out;
  out.code_points.reserve(text.size());
  out.byte_offsets.reserve(text.size() + 1);
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t b0 = s[i];
    if (b0 < 0x80) {
      out.code_points.push_back(b0);
      out.byte_offsets.push_back(static_cast<int32_t>(i));
      ++i;
      continue;
    }
    int len;
    char32_t c;
    char32_t min;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2, c = b0 & 0x1F, min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3, c = b0 & 0x0F, min = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4, c = b0 & 0x07, min = 0x10000;
    } else if (b0 >= 0x80 && b0 <= 0xBF) {
      return BadUtf8(i, "stray continuation byte", b0);
    } else if (b0 == 0xC0 || b0 == 0xC1) {
      return BadUtf8(i, "overlong encoding", b0);
    } else {
      return BadUtf8(i, "invalid lead byte", b0);
    }
    for (int k = 1; k < len; ++k) {
      if (i + k >= n) return BadUtf8(i, "truncated sequence", b0);
      const uint8_t b = s[i + k];
      if ((b & 0xC0) != 0x80) return BadUtf8(i, "truncated sequence", b0);
      c = (c << 6) | (b & 0x3F);
    }
    if (c < min) return BadUtf8(i, "overlong encoding", b0);
    if (c >= 0xD800 && c <= 0xDFFF) {
      return BadUtf8(i, "encoded surrogate code point", b0);
    }
    if (c > 0x10FFFF) return BadUtf8(i, "code point above U+10FFFF", b0);
    out.code_points.push_back(c);
    out.byte_offsets.push_back(static_cast<int32_t>(i));
    i += len;
  }
  out.byte_offsets.push_back(static_cast<int32_t>(n));
  return out;
}

void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string EncodeUtf8(char32_t c) {
  std::string s;
  AppendUtf8(c, &s);
  return s;
}

}  // namespace ptune::text

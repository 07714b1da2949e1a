#include "server/datasets/text_util.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "unicode/uchar.h"

namespace ptune::datasets {
namespace {

constexpr size_t kMaxQuotedBytes = 40;

// Length of the well-formed UTF-8 sequence starting at `p` (at most `n`
// bytes available), or 0 when it is ill-formed. Writes the code point.
int DecodeOne(const unsigned char* p, size_t n, char32_t* out) {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) {
    *out = b0;
    return 1;
  }
  int len;
  char32_t cp;
  unsigned char lo = 0x80, hi = 0xBF;  // Allowed range of the second byte.
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // No overlong forms.
    if (b0 == 0xED) hi = 0x9F;  // No surrogates.
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // No overlong forms.
    if (b0 == 0xF4) hi = 0x8F;  // Nothing above U+10FFFF.
  } else {
    return 0;
  }
  if (n < static_cast<size_t>(len)) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  cp = (cp << 6) | (p[1] & 0x3F);
  for (int i = 2; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  *out = cp;
  return len;
}

}  // namespace

absl::Status LineError(absl::string_view source, int64_t line,
                       absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ":", line, ": ", message));
}

std::string QuoteForMessage(absl::string_view text) {
  size_t cut = text.size();
  if (cut > kMaxQuotedBytes) {
    // Cut at a code point boundary.
    cut = kMaxQuotedBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
      --cut;
    }
  }
  std::string out = "\"";
  for (const char c : text.substr(0, cut)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7F) {
      out += absl::StrFormat("\\x%02x", u);
    } else {
      out.push_back(c);  // UTF-8 is shown as is.
    }
  }
  if (cut < text.size()) out += "...";
  out.push_back('"');
  return out;
}

int64_t FindInvalidUtf8(absl::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // Fast path for ASCII.
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    char32_t cp;
    const int len = DecodeOne(p + i, n - i, &cp);
    if (len == 0) return static_cast<int64_t>(i);
    i += len;
  }
  return -1;
}

absl::Status CheckUtf8(absl::string_view contents, absl::string_view source) {
  const int64_t bad = FindInvalidUtf8(contents);
  if (bad < 0) return absl::OkStatus();
  const int64_t line =
      1 + std::count(contents.begin(), contents.begin() + bad, '\n');
  const size_t line_start = contents.rfind('\n', bad);
  const int64_t column = bad - (line_start == absl::string_view::npos
                                    ? -1
                                    : static_cast<int64_t>(line_start));
  return LineError(source, line,
                   absl::StrCat("invalid UTF-8 at byte ", column,
                                " of the line (file offset ", bad, ")"));
}

std::vector<Line> SplitLines(absl::string_view contents) {
  std::vector<Line> lines;
  int64_t number = 0;
  size_t pos = 0;
  while (pos < contents.size()) {
    size_t end = contents.find('\n', pos);
    if (end == absl::string_view::npos) end = contents.size();
    absl::string_view text = contents.substr(pos, end - pos);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    lines.push_back({text, ++number});
    pos = end + 1;
  }
  return lines;
}

std::u32string DecodeUtf8(absl::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    char32_t cp;
    const int len = DecodeOne(p + i, text.size() - i, &cp);
    if (len == 0) {
      out.push_back(0xFFFD);
      ++i;
    } else {
      out.push_back(cp);
      i += len;
    }
  }
  return out;
}

std::string EncodeUtf8(const std::u32string& code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (const char32_t c : code_points) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

int64_t CodePointCount(absl::string_view text) {
  int64_t count = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

bool IsWhitespace(char32_t c) {
  return u_isUWhiteSpace(static_cast<UChar32>(c));
}

bool IsPunctuation(char32_t c) {
  if (c < 0x80) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) ||
           (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  }
  return u_ispunct(static_cast<UChar32>(c));
}

bool IsBlank(absl::string_view text) {
  for (const char32_t c : DecodeUtf8(text)) {
    if (!IsWhitespace(c)) return false;
  }
  return true;
}

std::vector<Span> PreTokenize(const std::u32string& text) {
  std::vector<Span> words;
  int32_t start = -1;  // Start of the word being read, or -1.
  const int32_t n = static_cast<int32_t>(text.size());
  for (int32_t i = 0; i < n; ++i) {
    const char32_t c = text[i];
    if (IsWhitespace(c) || IsPunctuation(c)) {
      if (start >= 0) words.push_back({start, i, ""});
      start = -1;
      if (!IsWhitespace(c)) words.push_back({i, i + 1, ""});
    } else if (start < 0) {
      start = i;
    }
  }
  if (start >= 0) words.push_back({start, n, ""});
  return words;
}

}  // namespace ptune::datasets

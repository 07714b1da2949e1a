// Text helpers shared by the dataset readers: strict UTF-8 checking with line
// numbers, line splitting, code-point decoding, error formatting and the
// BERT-style pre-tokenizer that defines "words". Stateless; thread-safe.
#ifndef PTUNE_SERVER_DATASETS_TEXT_UTIL_H_
#define PTUNE_SERVER_DATASETS_TEXT_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/datasets/dataset.h"

namespace ptune::datasets {

// INVALID_ARGUMENT "<source>:<line>: <message>".
absl::Status LineError(absl::string_view source, int64_t line,
                       absl::string_view message);

// `text` in double quotes for messages: quotes, backslashes and control
// characters escaped (UTF-8 kept), cut to about 40 bytes (with "...").
std::string QuoteForMessage(absl::string_view text);

// Byte offset of the first ill-formed UTF-8 sequence (RFC 3629: overlong
// forms, surrogates, values above U+10FFFF, truncated sequences and stray
// continuation bytes are ill-formed), or -1 when `text` is well-formed.
int64_t FindInvalidUtf8(absl::string_view text);

// OK when `contents` is well-formed UTF-8; otherwise INVALID_ARGUMENT naming
// `source` and the 1-based line of the first bad sequence.
absl::Status CheckUtf8(absl::string_view contents, absl::string_view source);

// One physical line, without its "\n" or "\r\n", and its 1-based number.
struct Line {
  absl::string_view text;
  int64_t number = 0;
};

// Splits at "\n", dropping one trailing "\r" per line. A final newline does
// not start another line, so "a\nb\n" is two lines and "" is none.
std::vector<Line> SplitLines(absl::string_view contents);

// The code points of well-formed UTF-8 (check it first: ill-formed bytes
// decode to U+FFFD).
std::u32string DecodeUtf8(absl::string_view text);

// UTF-8 encoding of code points (scalar values).
std::string EncodeUtf8(const std::u32string& code_points);

// Number of code points of well-formed UTF-8.
int64_t CodePointCount(absl::string_view text);

// White_Space property (as Rust's char::is_whitespace, which BERT's
// pre-tokenizer uses).
bool IsWhitespace(char32_t c);

// BERT pre-tokenizer punctuation: ASCII punctuation (including $ + < = > ^ `
// | ~) or a Unicode P* general category (ICU).
bool IsPunctuation(char32_t c);

// True when `text` (well-formed UTF-8) is empty or only whitespace.
bool IsBlank(absl::string_view text);

// BERT-style pre-tokens ("words") of `text`: split at whitespace, and every
// punctuation character becomes a word of its own. Spans in code points.
std::vector<Span> PreTokenize(const std::u32string& text);

}  // namespace ptune::datasets

#endif  // PTUNE_SERVER_DATASETS_TEXT_UTIL_H_

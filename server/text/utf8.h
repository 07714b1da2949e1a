// Strict UTF-8 decoding for the tokenizer: text becomes code points plus the
// byte offset of each, so that token offsets can be reported both in code
// points and in bytes of the original text. Stateless; thread-safe.
#ifndef PTUNE_SERVER_TEXT_UTF8_H_
#define PTUNE_SERVER_TEXT_UTF8_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ptune::text {

// A decoded text: `code_points[i]` starts at byte `byte_offsets[i]`;
// `byte_offsets` has one extra entry, the byte length of the text.
struct DecodedText {
  std::vector<char32_t> code_points;
  std::vector<int32_t> byte_offsets;
};

// Decodes well-formed UTF-8 (RFC 3629: no overlong forms, no surrogate code
// points, nothing above U+10FFFF, no truncated sequences or stray
// continuation bytes). INVALID_ARGUMENT naming the byte offset of the first
// bad sequence otherwise, or when the text is 2 GiB or longer.
absl::StatusOr<DecodedText> DecodeUtf8(absl::string_view text);

// Appends the UTF-8 encoding of the scalar value `c` (not a surrogate, at
// most U+10FFFF) to `out`.
void AppendUtf8(char32_t c, std::string* out);

// The UTF-8 encoding of `c`.
std::string EncodeUtf8(char32_t c);

}  // namespace ptune::text

#endif  // PTUNE_SERVER_TEXT_UTF8_H_

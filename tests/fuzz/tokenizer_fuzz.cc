// Tokenizer::Encode on arbitrary bytes: invalid UTF-8 must be refused with a
// status, and every encoding's offsets must point into the text.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "server/text/tokenizer.h"
#include "server/text/utf8.h"
#include "tests/fuzz/fuzz_env.h"

using ::ptune::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ptune::text::Tokenizer* tokenizer = [] {
    auto made = ptune::text::Tokenizer::FromDirectory(ptune::fuzz::BackboneDirOrDie());
    Check(made.ok(), "the backbone's tokenizer loads");
    return made->release();
  }();
  if (size == 0) return 0;
  // First byte: max_length (0 = the model's) and whether specials are added.
  const int max_length = data[0] & 0x7f;
  const bool specials = (data[0] & 0x80) == 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto encoding = tokenizer->Encode(text, max_length, specials);
  if (!encoding.ok()) return 0;
  const size_t n = encoding->ids.size();
  Check(encoding->offsets.size() == n && encoding->byte_offsets.size() == n &&
            encoding->word_ids.size() == n && encoding->word_case.size() == n,
        "one offset, word id and case per token");
  if (max_length >= 2 && specials) Check(n <= static_cast<size_t>(max_length), "max_length");
  for (size_t i = 0; i < n; ++i) {
    const auto [begin, end] = encoding->byte_offsets[i];
    Check(0 <= begin && begin <= end && static_cast<size_t>(end) <= text.size(),
          "byte offsets inside the text");
    Check(encoding->offsets[i].first <= encoding->offsets[i].second,
          "code-point offsets ordered");
  }
  return 0;
}

// Hugging Face `BertNormalizer` with alignment tracking: every normalized
// code point remembers the original code point it came from, so that token
// offsets can be mapped back to the original text exactly as `tokenizers`
// does (including its positional alignment rule for NFD reordering).
// Immutable after construction; thread-safe.
#ifndef PTUNE_SERVER_TEXT_BERT_NORMALIZER_H_
#define PTUNE_SERVER_TEXT_BERT_NORMALIZER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ptune::text {

// A normalized text: `chars[i]` came from original code point `source[i]`.
struct NormalizedText {
  std::vector<char32_t> chars;
  std::vector<int32_t> source;

  void clear() {
    chars.clear();
    source.clear();
  }
  size_t size() const { return chars.size(); }
};

// The BertNormalizer steps, in HF's order: clean_text (drop U+0000, U+FFFD
// and control characters, map whitespace to ' '), handle_chinese_chars
// (spaces around CJK ideographs), strip_accents (NFD, then drop nonspacing
// marks), lowercase (per code point).
class BertNormalizer {
 public:
  BertNormalizer(bool clean_text, bool handle_chinese_chars, bool strip_accents,
                 bool lowercase)
      : clean_text_(clean_text),
        handle_chinese_chars_(handle_chinese_chars),
        strip_accents_(strip_accents),
        lowercase_(lowercase) {}

  // Normalizes `text[0, n)`, whose first code point is original code point
  // `first_source`, and appends the result to `out`. `scratch` is a buffer
  // reused between calls (any content is discarded).
  void Normalize(const char32_t* text, size_t n, int32_t first_source,
                 NormalizedText* out, NormalizedText* scratch) const;

 private:
  // NFD (Unicode 9.0 data, canonical reordering) then removal of
  // nonspacing marks, from `in` to the end of `out`.
  static void StripAccents(const NormalizedText& in, NormalizedText* out);

  bool clean_text_;
  bool handle_chinese_chars_;
  bool strip_accents_;
  bool lowercase_;
};

}  // namespace ptune::text

#endif  // PTUNE_SERVER_TEXT_BERT_NORMALIZER_H_

// Word case: the capitalization of a word in the ORIGINAL text. Uncased
// backbones (all-MiniLM-L6-v2, bert-base-uncased) lowercase their input, so
// "Apple" and "apple" reach the encoder as the same tokens; a prompt with
// case embeddings (PromptSpec::case_embeddings) adds a learned vector per
// class to each token's input embedding to give the signal back.
// Stateless; thread-safe.
#ifndef PTUNE_SERVER_TEXT_WORD_CASE_H_
#define PTUNE_SERVER_TEXT_WORD_CASE_H_

#include <cstddef>
#include <cstdint>

namespace ptune::text {

enum class WordCase : uint8_t {
  kNone = 0,   // special tokens, padding, words without cased letters
  kLower = 1,  // "apple", "e-mail"
  kTitle = 2,  // "Apple", "I": the first cased letter upper, the rest lower
  kUpper = 3,  // "NATO", "USA": two or more cased letters, all upper
  kMixed = 4,  // "iPhone", "McDonald", "eBay"
};
inline constexpr int kNumWordCases = 5;

// The class of the code points [begin, end) (Unicode case properties: ICU
// UCHAR_UPPERCASE / UCHAR_LOWERCASE; characters with neither are ignored).
WordCase ClassifyWordCase(const char32_t* begin, const char32_t* end);

}  // namespace ptune::text

#endif  // PTUNE_SERVER_TEXT_WORD_CASE_H_

// Character classes exactly as Hugging Face `tokenizers` (0.19) computes them
// for BERT, on top of ICU. The Rust crates behind tokenizers carry old
// Unicode tables, and matching them bit for bit needs these quirks:
//   * "control" (removed by clean_text) and "nonspacing mark" (removed by
//     strip_accents) and "punctuation" (isolated by the pre-tokenizer) come
//     from the `unicode_categories` crate: Unicode 8.0 general categories.
//     Characters assigned later are never control/mark/punctuation there,
//     and a handful changed category since 8.0 (kept here as exceptions).
//     Unassigned code points (Cn) are NOT removed, despite the comment in
//     normalizers/bert.rs.
//   * NFD comes from `unicode-normalization-alignments`: Unicode 9.0 data,
//     so characters assigned after 9.0 neither decompose nor have a
//     canonical combining class.
//   * Whitespace and lowercase come from the Rust standard library (current
//     Unicode; ICU 72 agrees on every scalar value).
// Stateless; thread-safe.
#ifndef PTUNE_SERVER_TEXT_UNICODE_PROPS_H_
#define PTUNE_SERVER_TEXT_UNICODE_PROPS_H_

#include <cstdint>

namespace ptune::text {

// Rust `char::is_whitespace` (White_Space property). Used by BertNormalizer
// (which also counts \t \n \r, already White_Space) and BertPreTokenizer.
bool IsWhitespace(char32_t c);

// BertNormalizer `is_control`: Unicode-8.0 categories Cc Cf Co Cs, except
// \t \n \r.
bool IsControl(char32_t c);

// BertPreTokenizer `is_bert_punc`: ASCII punctuation (which includes
// $ + < = > ^ ` | ~) or a Unicode-8.0 P* category.
bool IsPunctuation(char32_t c);

// BertNormalizer `is_chinese_char`: the CJK ideograph ranges of bert.rs.
bool IsChineseChar(char32_t c);

// Unicode-8.0 Mn (nonspacing mark), removed after NFD by strip_accents.
bool IsNonspacingMark(char32_t c);

// Canonical combining class as of Unicode 9.0 (0 for later characters).
uint8_t CombiningClass(char32_t c);

// Writes the full canonical decomposition of `c` (Unicode 9.0 data, Hangul
// included) to `out` and returns its length (at most kMaxDecomposition);
// returns 1 with out[0] = c when `c` does not decompose.
constexpr int kMaxDecomposition = 8;
int CanonicalDecomposition(char32_t c, char32_t out[kMaxDecomposition]);

// Rust regex `\w` (Unicode): Alphabetic, marks, decimal digits, connector
// punctuation, Join_Control. Used by single_word added tokens.
bool IsWordChar(char32_t c);

// Whether ICU's normalization data could be loaded (false means every
// decomposition is the identity).
bool HasNormalizationData();

// Rust `char::to_lowercase`: the simple lowercase mapping, except U+0130
// which becomes "i" U+0307. Writes 1 or 2 code points, returns the count.
int ToLowercase(char32_t c, char32_t out[2]);

}  // namespace ptune::text

#endif  // PTUNE_SERVER_TEXT_UNICODE_PROPS_H_

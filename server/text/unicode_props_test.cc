// Spot checks of the Hugging Face character-class quirks; the full sweep
// over every code point is EveryCodePointDigest in tokenizer_fixture_test.
#include "server/text/unicode_props.h"

#include "gtest/gtest.h"

namespace ptune::text {
namespace {

TEST(UnicodePropsTest, Whitespace) {
  for (char32_t c : {U' ', U'\t', U'\n', U'\r', char32_t{0x0B}, char32_t{0x85},
                     char32_t{0xA0}, char32_t{0x3000}, char32_t{0x2028}}) {
    EXPECT_TRUE(IsWhitespace(c)) << std::hex << c;
  }
  // Python's str.isspace() says yes to these; Rust (and HF) do not.
  for (char32_t c :
       {char32_t{0x1C}, char32_t{0x1F}, char32_t{0x200B}, char32_t{0x180E}}) {
    EXPECT_FALSE(IsWhitespace(c)) << std::hex << c;
  }
}

TEST(UnicodePropsTest, ControlUsesUnicode8Categories) {
  EXPECT_FALSE(IsControl(U'\t'));
  EXPECT_FALSE(IsControl(U'\n'));
  EXPECT_TRUE(IsControl(0x07));
  EXPECT_TRUE(IsControl(0x200B));   // Cf
  EXPECT_TRUE(IsControl(0xFEFF));   // Cf
  EXPECT_TRUE(IsControl(0xE000));   // Co
  EXPECT_FALSE(IsControl(0x08E2));  // Cf, but only since Unicode 9.0
  EXPECT_FALSE(IsControl(0x0378));  // unassigned (Cn) is kept
  EXPECT_FALSE(IsControl(U'a'));
}

TEST(UnicodePropsTest, Punctuation) {
  for (char32_t c : {U'!', U'$', U'+', U'<', U'^', U'`', U'|', U'~', U'-',
                     char32_t{0x201C}, char32_t{0x3002}, char32_t{0x166D}}) {
    EXPECT_TRUE(IsPunctuation(c)) << std::hex << c;
  }
  for (char32_t c :
       {U'a', U'1', char32_t{0x20AC}, char32_t{0x2E43}, char32_t{0xA9}}) {
    EXPECT_FALSE(IsPunctuation(c)) << std::hex << c;
  }
}

TEST(UnicodePropsTest, ChineseRanges) {
  EXPECT_TRUE(IsChineseChar(0x4E2D));
  EXPECT_TRUE(IsChineseChar(0xF900));
  EXPECT_TRUE(IsChineseChar(0x20000));
  EXPECT_FALSE(IsChineseChar(0x3042));   // hiragana
  EXPECT_FALSE(IsChineseChar(0xD55C));   // hangul
  EXPECT_FALSE(IsChineseChar(0x2B820));  // gap between HF's ranges
}

TEST(UnicodePropsTest, NonspacingMarksAndCombiningClasses) {
  EXPECT_TRUE(IsNonspacingMark(0x0301));
  EXPECT_TRUE(IsNonspacingMark(0x1734));   // Mn in 8.0, Mc now
  EXPECT_FALSE(IsNonspacingMark(0x08D4));  // Mn since 9.0
  EXPECT_FALSE(IsNonspacingMark(0x1885));  // Lo in 8.0
  EXPECT_FALSE(IsNonspacingMark(0x093E));  // Mc
  EXPECT_EQ(CombiningClass(0x0301), 230);
  EXPECT_EQ(CombiningClass(0x08D4), 230);  // Unicode 9.0
  EXPECT_EQ(CombiningClass(0x0898), 0);    // Unicode 14.0: unknown to HF
  EXPECT_EQ(CombiningClass(U'a'), 0);
}

TEST(UnicodePropsTest, CanonicalDecomposition) {
  char32_t d[kMaxDecomposition];
  ASSERT_EQ(CanonicalDecomposition(0xE9, d), 2);
  EXPECT_EQ(d[0], U'e');
  EXPECT_EQ(d[1], 0x301u);
  ASSERT_EQ(CanonicalDecomposition(0xD55C, d), 3);  // Hangul syllable
  EXPECT_EQ(d[0], 0x1112u);
  ASSERT_EQ(CanonicalDecomposition(0x1F82, d), 4);   // recursive
  ASSERT_EQ(CanonicalDecomposition(0xFB01, d), 1);   // compatibility only
  ASSERT_EQ(CanonicalDecomposition(0x11938, d), 1);  // Unicode 13.0
  ASSERT_EQ(CanonicalDecomposition(U'a', d), 1);
  EXPECT_EQ(d[0], U'a');
}

TEST(UnicodePropsTest, Lowercase) {
  char32_t out[2];
  ASSERT_EQ(ToLowercase(U'A', out), 1);
  EXPECT_EQ(out[0], U'a');
  ASSERT_EQ(ToLowercase(0x130, out), 2);  // İ -> i + combining dot
  EXPECT_EQ(out[0], U'i');
  EXPECT_EQ(out[1], 0x307u);
  ASSERT_EQ(ToLowercase(0x3A3, out), 1);  // Σ -> σ, never final ς
  EXPECT_EQ(out[0], 0x3C3u);
  ASSERT_EQ(ToLowercase(0x1E9E, out), 1);  // ẞ -> ß
  EXPECT_EQ(out[0], 0xDFu);
}

TEST(UnicodePropsTest, WordChars) {
  EXPECT_TRUE(IsWordChar(U'a'));
  EXPECT_TRUE(IsWordChar(U'_'));
  EXPECT_TRUE(IsWordChar(0x4E2D));
  EXPECT_TRUE(IsWordChar(0x0301));
  EXPECT_FALSE(IsWordChar(U' '));
  EXPECT_FALSE(IsWordChar(U'['));
}

}  // namespace
}  // namespace ptune::text

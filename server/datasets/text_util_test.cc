#include "server/datasets/text_util.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::datasets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Words(const std::string& text) {
  const std::u32string cps = DecodeUtf8(text);
  std::vector<std::string> out;
  for (const Span& w : PreTokenize(cps)) {
    out.push_back(EncodeUtf8(cps.substr(w.begin, w.end - w.begin)));
  }
  return out;
}

TEST(TextUtilUtf8Test, AcceptsWellFormedText) {
  EXPECT_EQ(FindInvalidUtf8(""), -1);
  EXPECT_EQ(FindInvalidUtf8("plain ascii"), -1);
  EXPECT_EQ(FindInvalidUtf8("Z\xC3\xBCrich \xE6\x97\xA5\xE6\x9C\xAC "
                            "\xF0\x9F\x98\x80 \xEF\xBB\xBF"),
            -1);
  EXPECT_EQ(FindInvalidUtf8("\xF4\x8F\xBF\xBF"), -1);  // U+10FFFF.
}

TEST(TextUtilUtf8Test, RejectsIllFormedSequences) {
  EXPECT_EQ(FindInvalidUtf8("ab\x80"), 2);            // Stray continuation.
  EXPECT_EQ(FindInvalidUtf8("\xC0\xAF"), 0);          // Overlong '/'.
  EXPECT_EQ(FindInvalidUtf8("\xC1\xBF"), 0);          // Overlong.
  EXPECT_EQ(FindInvalidUtf8("\xE0\x80\xAF"), 0);      // Overlong.
  EXPECT_EQ(FindInvalidUtf8("\xF0\x80\x80\xAF"), 0);  // Overlong.
  EXPECT_EQ(FindInvalidUtf8("x\xED\xA0\x80"), 1);     // Surrogate D800.
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0);  // Above U+10FFFF.
  EXPECT_EQ(FindInvalidUtf8("\xF5\x80\x80\x80"), 0);
  EXPECT_EQ(FindInvalidUtf8("ok\xE6\x97"), 2);  // Truncated.
  EXPECT_EQ(FindInvalidUtf8("\xE6\x97z"), 0);   // Bad continuation.
  EXPECT_EQ(FindInvalidUtf8("\xFF"), 0);
}

TEST(TextUtilUtf8Test, CheckNamesSourceAndLine) {
  EXPECT_TRUE(CheckUtf8("a\nb\n", "f.tsv").ok());
  const absl::Status status = CheckUtf8("ok\nfine\nbad \xFF here\n", "f.tsv");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("f.tsv:3: invalid UTF-8"));
  EXPECT_THAT(status.message(), HasSubstr("byte 5 of the line"));
  EXPECT_THAT(CheckUtf8("\xC3", "x").message(), HasSubstr("x:1: "));
}

TEST(TextUtilUtf8Test, DecodeEncodeRoundTripAndCount) {
  const std::string text = "a\xC3\xBC\xE6\x97\xA5\xF0\x9F\x98\x80";
  const std::u32string cps = DecodeUtf8(text);
  EXPECT_EQ(cps, (std::u32string{U'a', 0xFC, 0x65E5, 0x1F600}));
  EXPECT_EQ(EncodeUtf8(cps), text);
  EXPECT_EQ(CodePointCount(text), 4);
  EXPECT_EQ(DecodeUtf8("\xFF"), std::u32string(1, 0xFFFD));
}

TEST(SplitLinesTest, HandlesLineEndings) {
  EXPECT_TRUE(SplitLines("").empty());
  std::vector<Line> lines = SplitLines("a\r\nb\n\nc");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].text, "a");
  EXPECT_EQ(lines[1].text, "b");
  EXPECT_EQ(lines[2].text, "");
  EXPECT_EQ(lines[3].text, "c");
  EXPECT_EQ(lines[3].number, 4);
  EXPECT_EQ(SplitLines("x\n").size(), 1u);
  EXPECT_EQ(SplitLines("x\n\n").size(), 2u);
}

TEST(PreTokenizeTest, SplitsWhitespaceAndIsolatesPunctuation) {
  EXPECT_THAT(Words("Hello, world!"), ElementsAre("Hello", ",", "world", "!"));
  EXPECT_THAT(Words("  don't\tstop\n"), ElementsAre("don", "'", "t", "stop"));
  EXPECT_THAT(Words("a$b^c`d|e~f+g<h=i>j"),
              ElementsAre("a", "$", "b", "^", "c", "`", "d", "|", "e", "~", "f",
                          "+", "g", "<", "h", "=", "i", ">", "j"));
  // Unicode punctuation (P*) is isolated; symbols (S*) are not.
  EXPECT_THAT(Words("\xC2\xAByes\xC2\xBB \xE2\x80\x94no\xE3\x80\x81"),
              ElementsAre("\xC2\xAB", "yes", "\xC2\xBB", "\xE2\x80\x94", "no",
                          "\xE3\x80\x81"));
  EXPECT_THAT(Words("5\xE2\x82\xAC"),
              ElementsAre("5\xE2\x82\xAC"));  // Euro Sc.
  // NBSP and the ideographic space are whitespace.
  EXPECT_THAT(Words("a\xC2\xA0"
                    "b\xE3\x80\x80"
                    "c"),
              ElementsAre("a", "b", "c"));
  EXPECT_TRUE(Words(" \t ").empty());
}

TEST(PreTokenizeTest, SpansAreCodePoints) {
  const std::u32string cps =
      DecodeUtf8("K\xC3\xB6ln, \xE6\x97\xA5\xE6\x9C\xAC");
  const std::vector<Span> words = PreTokenize(cps);
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(words[0], (Span{0, 4, ""}));
  EXPECT_EQ(words[1], (Span{4, 5, ""}));
  EXPECT_EQ(words[2], (Span{6, 8, ""}));
}

TEST(TextUtilTest, IsBlank) {
  EXPECT_TRUE(IsBlank(""));
  EXPECT_TRUE(IsBlank(" \t\xC2\xA0"));
  EXPECT_FALSE(IsBlank(" x "));
}

TEST(TextUtilTest, QuoteForMessageEscapesAndCuts) {
  EXPECT_EQ(QuoteForMessage("a\"b\tc"), "\"a\\\"b\\tc\"");
  EXPECT_EQ(QuoteForMessage("\x01"), "\"\\x01\"");
  EXPECT_EQ(QuoteForMessage("K\xC3\xB6ln"), "\"K\xC3\xB6ln\"");
  const std::string longer(100, 'x');
  EXPECT_EQ(QuoteForMessage(longer), "\"" + std::string(40, 'x') + "...\"");
  // Never cuts inside a code point.
  const std::string umlauts = "a" + std::string(30, ' ') + "\xC3\xBC\xC3\xBC" +
                              "\xC3\xBC\xC3\xBC\xC3\xBC\xC3\xBC";
  EXPECT_EQ(QuoteForMessage(umlauts), "\"a" + std::string(30, ' ') +
                                          "\xC3\xBC\xC3\xBC\xC3\xBC\xC3\xBC" +
                                          "...\"");
  EXPECT_EQ(LineError("f.csv", 7, "boom").message(), "f.csv:7: boom");
}

}  // namespace
}  // namespace ptune::datasets

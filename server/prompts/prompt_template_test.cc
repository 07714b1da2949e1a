#include "server/prompts/prompt_template.h"

#include "gtest/gtest.h"

namespace ptune::prompts {
namespace {

std::unique_ptr<text::Tokenizer> TinyTokenizer() {
  auto tokenizer = text::Tokenizer::FromVocab(
      {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "it", "was", "good", "film",
       ".", "a"},
      text::TokenizerConfig{});
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return std::move(*tokenizer);
}

TEST(PromptTemplateTest, ParsesPieces) {
  auto tmpl = ParsePromptTemplate("<soft:3> {text} It was [MASK] . <soft:2>");
  ASSERT_TRUE(tmpl.ok()) << tmpl.status();
  EXPECT_EQ(tmpl->soft_tokens, 5);
  EXPECT_TRUE(tmpl->has_mask);
  ASSERT_EQ(tmpl->pieces.size(), 4u);
  EXPECT_EQ(tmpl->pieces[0].kind, PromptTemplate::Piece::Kind::kSoft);
  EXPECT_EQ(tmpl->pieces[1].kind, PromptTemplate::Piece::Kind::kText);
  EXPECT_EQ(tmpl->pieces[2].kind, PromptTemplate::Piece::Kind::kHard);
}

TEST(PromptTemplateTest, RejectsMalformedTemplates) {
  EXPECT_FALSE(ParsePromptTemplate("no text here").ok());
  EXPECT_FALSE(ParsePromptTemplate("{text} {text}").ok());
  EXPECT_FALSE(ParsePromptTemplate("<soft:0> {text}").ok());
  EXPECT_FALSE(ParsePromptTemplate("<soft:x> {text}").ok());
  EXPECT_FALSE(ParsePromptTemplate("<soft:3 {text}").ok());
}

TEST(PromptTemplateTest, LaysTextHardTokensAndSoftRuns) {
  auto tokenizer = TinyTokenizer();
  auto tmpl = ParsePromptTemplate("<soft:3> {text} it was [MASK] .");
  ASSERT_TRUE(tmpl.ok());
  auto row = ApplyTemplate(*tmpl, *tokenizer, "a good film", 0);
  ASSERT_TRUE(row.ok()) << row.status();
  // [CLS] a good film it was [MASK] . [SEP]
  EXPECT_EQ(row->encoding.ids,
            (std::vector<int32_t>{2, 10, 7, 8, 5, 6, 4, 9, 3}));
  EXPECT_EQ(row->mask_position, 6);
  ASSERT_EQ(row->segments.size(), 1u);
  EXPECT_EQ(row->segments[0].before_token, 1);
  EXPECT_EQ(row->segments[0].length, 3);
  // The text's own offsets survive; template tokens have none.
  EXPECT_EQ(row->encoding.offsets[2], (std::pair<int32_t, int32_t>{2, 6}));
  EXPECT_EQ(row->encoding.offsets[5], (std::pair<int32_t, int32_t>{0, 0}));
}

TEST(PromptTemplateTest, TruncatesOnlyTheText) {
  auto tokenizer = TinyTokenizer();
  auto tmpl = ParsePromptTemplate("{text} it was [MASK]");
  ASSERT_TRUE(tmpl.ok());
  auto row = ApplyTemplate(*tmpl, *tokenizer, "a good film a good film", 7);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->encoding.ids, (std::vector<int32_t>{2, 10, 7, 5, 6, 4, 3}));
  EXPECT_TRUE(row->encoding.truncated);
  EXPECT_EQ(ApplyTemplate(*tmpl, *tokenizer, "a", 5).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ptune::prompts

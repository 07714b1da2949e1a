#include "server/backbone/prompt_layout.h"

#include "gtest/gtest.h"

namespace ptune::backbone {
namespace {

TEST(PromptLayoutTest, NoPromptsIsIdentity) {
  auto layout = BuildPromptLayout({3, 2}, 3, {}, {}, 0);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->seq_len, 3);
  EXPECT_EQ(layout->source, (std::vector<int64_t>{0, 1, 2, 0, 1, 0}));
  EXPECT_EQ(layout->mask, (std::vector<uint8_t>{1, 1, 1, 1, 1, 0}));
  EXPECT_EQ(layout->text_positions, (std::vector<int64_t>{0, 1, 2, 0, 1, 0}));
}

TEST(PromptLayoutTest, PrefixInfixAndBoth) {
  // T = 3, M = 4 (prompt source indices start at 3).
  auto layout = BuildPromptLayout(
      {3, 3, 2}, 3, {},
      {{{0, 0, 2}}, {{1, 1, 1}}, {{1, 2, 2}, {0, 0, 1}}}, 4);
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->seq_len, 5);
  EXPECT_EQ(layout->source, (std::vector<int64_t>{
                                3, 4, 0, 1, 2,   // P0 P1 t0 t1 t2
                                0, 4, 1, 2, 0,   // t0 P1 t1 t2 pad
                                3, 0, 5, 6, 1}));  // P0 t0 P2 P3 t1
  EXPECT_EQ(layout->mask, (std::vector<uint8_t>{1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
                                                1, 1, 1, 1, 1}));
  EXPECT_EQ(layout->text_positions,
            (std::vector<int64_t>{2, 3, 4, 0, 2, 3, 1, 4, 0}));
}

TEST(PromptLayoutTest, SegmentAtEndOfRow) {
  auto layout = BuildPromptLayout({2}, 2, {}, {{{2, 0, 1}}}, 1);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->source, (std::vector<int64_t>{0, 1, 2}));
}

TEST(PromptLayoutTest, TokenTypesFollowTheirTokensAndPromptsAreZero) {
  auto layout = BuildPromptLayout({2}, 2, {1, 1}, {{{1, 0, 1}}}, 1);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->token_type, (std::vector<int64_t>{1, 0, 1}));
}

TEST(PromptLayoutTest, RejectsSegmentsOutsideRowOrPrompt) {
  EXPECT_FALSE(BuildPromptLayout({2}, 2, {}, {{{3, 0, 1}}}, 1).ok());
  EXPECT_FALSE(BuildPromptLayout({2}, 2, {}, {{{0, 1, 1}}}, 1).ok());
  EXPECT_FALSE(BuildPromptLayout({2}, 2, {}, {{{0, 0, -1}}}, 1).ok());
  EXPECT_FALSE(BuildPromptLayout({3}, 2, {}, {}, 0).ok());
  EXPECT_FALSE(BuildPromptLayout({2, 2}, 2, {}, {{}}, 0).ok());
}

}  // namespace
}  // namespace ptune::backbone

#include "server/training/bio.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::training {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// "Angela Merkel visited New York ." words in code points.
const std::vector<Span> kWords = {{0, 6},   {7, 13},  {14, 21},
                                  {22, 25}, {26, 30}, {31, 32}};

TEST(TrainingBioTest, TagsToSpans) {
  EXPECT_THAT(
      TagsToSpans(kWords, {"B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"}),
      ElementsAre(Span{0, 13, "PER"}, Span{22, 30, "LOC"}));
  // Repairs: I- after O starts an entity; a type switch starts another.
  EXPECT_THAT(
      TagsToSpans(kWords, {"I-PER", "I-PER", "O", "I-LOC", "I-ORG", "O"}),
      ElementsAre(Span{0, 13, "PER"}, Span{22, 25, "LOC"},
                  Span{26, 30, "ORG"}));
  // Entity running to the last word; missing tags count as O.
  EXPECT_THAT(TagsToSpans(kWords, {"O", "O", "O", "O", "B-MISC", "I-MISC"}),
              ElementsAre(Span{26, 32, "MISC"}));
  EXPECT_THAT(TagsToSpans(kWords, {"B-PER"}), ElementsAre(Span{0, 6, "PER"}));
  EXPECT_TRUE(TagsToSpans(kWords, {}).empty());
  EXPECT_TRUE(TagsToSpans({}, {"B-PER"}).empty());
}

TEST(TrainingBioTest, SpansToTagsRoundTrip) {
  const std::vector<std::string> tags = {"B-PER", "I-PER", "O",
                                         "B-LOC", "B-LOC", "O"};
  const std::vector<Span> spans = TagsToSpans(kWords, tags);
  EXPECT_EQ(SpansToTags(kWords, spans), tags);
  EXPECT_THAT(SpansToTags(kWords, {}),
              ElementsAre("O", "O", "O", "O", "O", "O"));
}

TEST(TrainingBioTest, NormalizeTag) {
  EXPECT_EQ(*NormalizeTag("O"), "O");
  EXPECT_EQ(*NormalizeTag("B-PER"), "B-PER");
  EXPECT_EQ(*NormalizeTag("I-creative-work"), "I-creative-work");
  for (const char* bad : {"X-PER", "B-", "", "PER", "b-PER", "B-A B"}) {
    const absl::StatusOr<std::string> tag = NormalizeTag(bad);
    EXPECT_EQ(tag.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(NormalizeTag("X-PER").status().message(),
              HasSubstr("malformed tag \"X-PER\""));
}

TEST(TrainingBioTest, BioLabelSet) {
  EXPECT_THAT(
      BioLabelSet({"PER", "LOC", "ORG", "LOC"}),
      ElementsAre("O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"));
  EXPECT_THAT(BioLabelSet({}), ElementsAre("O"));
}

}  // namespace
}  // namespace ptune::training

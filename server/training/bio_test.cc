#include "server/training/bio.h"

#include <cmath>

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

TEST(TrainingBioTest, ConstrainedDecodeNeverStartsWithInside) {
  const std::vector<std::string> labels = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
  const auto row = [](std::vector<float> p) {
    for (float& x : p) x = std::log(x);
    return p;
  };
  std::vector<float> scores;
  // word 0: argmax I-PER (invalid start) -> B-PER; word 1: I-PER; word 2:
  // argmax I-LOC after PER -> best valid path; word 3: O.
  for (const auto& r : {row({0.1, 0.3, 0.4, 0.1, 0.1}), row({0.05, 0.05, 0.8, 0.05, 0.05}),
                        row({0.3, 0.05, 0.05, 0.2, 0.4}), row({0.9, 0.025, 0.025, 0.025, 0.025})}) {
    scores.insert(scores.end(), r.begin(), r.end());
  }
  EXPECT_EQ(ConstrainedBioDecode(scores, 4, labels), (std::vector<int>{1, 2, 0, 0}));
  // Unconstrained rows that are already valid decode to their argmax.
  std::vector<float> valid;
  for (const auto& r : {row({0.1, 0.7, 0.1, 0.05, 0.05}), row({0.1, 0.1, 0.7, 0.05, 0.05})}) {
    valid.insert(valid.end(), r.begin(), r.end());
  }
  EXPECT_EQ(ConstrainedBioDecode(valid, 2, labels), (std::vector<int>{1, 2}));
  EXPECT_TRUE(ConstrainedBioDecode({}, 0, labels).empty());
}

}  // namespace
}  // namespace ptune::training

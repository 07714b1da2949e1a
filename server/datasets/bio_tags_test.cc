#include "server/datasets/bio_tags.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::datasets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Tags = std::vector<std::string>;

TEST(ParseBioTagTest, AcceptsBio) {
  absl::StatusOr<BioTag> tag = ParseBioTag("O");
  ASSERT_TRUE(tag.ok());
  EXPECT_EQ(tag->prefix, 'O');
  EXPECT_EQ(tag->type, "");
  tag = ParseBioTag("B-PER");
  ASSERT_TRUE(tag.ok());
  EXPECT_EQ(tag->prefix, 'B');
  EXPECT_EQ(tag->type, "PER");
  tag = ParseBioTag("I-creative-work");
  ASSERT_TRUE(tag.ok());
  EXPECT_EQ(tag->prefix, 'I');
  EXPECT_EQ(tag->type, "creative-work");
}

TEST(ParseBioTagTest, RejectsMalformedTagsWithReason) {
  const struct {
    const char* tag;
    const char* reason;
  } kCases[] = {
      {"", "empty tag"},
      {"X-PER", "malformed tag \"X-PER\": expected O, B-<type> or I-<type>"},
      {"E-PER", "expected O, B-<type> or I-<type>"},
      {"b-PER", "expected O"},
      {"o", "expected O"},
      {"PER", "expected O"},
      {"B", "expected O"},
      {"BPER", "expected O"},
      {"B_PER", "expected O"},
      {"B-", "malformed tag \"B-\": missing entity type"},
      {"I-", "missing entity type"},
      {"B-PER X", "contains whitespace"},
      {"B-\tX", "contains whitespace"},
  };
  for (const auto& c : kCases) {
    const absl::StatusOr<BioTag> tag = ParseBioTag(c.tag);
    ASSERT_FALSE(tag.ok()) << c.tag;
    EXPECT_EQ(tag.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(tag.status().message(), HasSubstr(c.reason)) << c.tag;
    EXPECT_FALSE(IsValidBioTag(c.tag));
  }
  EXPECT_FALSE(ParseBioTag("B-" + std::string(65, 'T')).ok());
  EXPECT_TRUE(ParseBioTag("B-" + std::string(64, 'T')).ok());
}

TEST(ChunkTagsTest, Iob2) {
  EXPECT_THAT(ChunkTags({"B-PER", "I-PER", "O", "B-LOC"}),
              ElementsAre(TagChunk{"PER", 0, 2}, TagChunk{"LOC", 3, 4}));
  EXPECT_THAT(ChunkTags({"B-PER", "B-PER", "I-PER"}),
              ElementsAre(TagChunk{"PER", 0, 1}, TagChunk{"PER", 1, 3}));
  EXPECT_TRUE(ChunkTags({}).empty());
  EXPECT_TRUE(ChunkTags({"O", "O"}).empty());
}

TEST(ChunkTagsTest, ConllevalRepairs) {
  // I-X after O or at the start begins an entity.
  EXPECT_THAT(ChunkTags({"I-PER", "I-PER", "O", "I-LOC"}),
              ElementsAre(TagChunk{"PER", 0, 2}, TagChunk{"LOC", 3, 4}));
  // A type switch ends one entity and starts another.
  EXPECT_THAT(ChunkTags({"B-PER", "I-LOC", "I-LOC"}),
              ElementsAre(TagChunk{"PER", 0, 1}, TagChunk{"LOC", 1, 3}));
  // Entity at the end of the sentence.
  EXPECT_THAT(ChunkTags({"O", "B-ORG", "I-ORG"}),
              ElementsAre(TagChunk{"ORG", 1, 3}));
}

TEST(ChunkTagsTest, FollowsSeqevalForNonBioStrings) {
  // seqeval takes the first character as prefix and the rest after '-' as
  // type: "X-PER" starts a PER entity (type differs from the previous one),
  // "B-" has type "_".
  EXPECT_THAT(ChunkTags({"X-PER", "X-PER"}),
              ElementsAre(TagChunk{"PER", 0, 2}));
  EXPECT_THAT(ChunkTags({"B-"}), ElementsAre(TagChunk{"_", 0, 1}));
  // IOBES prefixes are honoured as seqeval does.
  EXPECT_THAT(ChunkTags({"S-PER", "S-PER"}),
              ElementsAre(TagChunk{"PER", 0, 1}, TagChunk{"PER", 1, 2}));
  EXPECT_THAT(ChunkTags({""}), ElementsAre());
}

TEST(ToIob2Test, NormalizesIob1) {
  EXPECT_EQ(ToIob2({"I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"}),
            (Tags{"B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG"}));
  EXPECT_EQ(ToIob2({"O", "B-X", "I-X"}), (Tags{"O", "B-X", "I-X"}));
}

TEST(BioTagsSpansTest, ChunksToSpansUsesWordOffsets) {
  const std::vector<Span> words = {{0, 4}, {5, 10}, {11, 13}, {14, 20}};
  EXPECT_THAT(ChunksToSpans(words, {{"PER", 0, 2}, {"LOC", 3, 4}}),
              ElementsAre(Span{0, 10, "PER"}, Span{14, 20, "LOC"}));
  // Chunks past the words are cut.
  EXPECT_THAT(ChunksToSpans(words, {{"PER", 3, 9}, {"LOC", 5, 6}}),
              ElementsAre(Span{14, 20, "PER"}));
}

TEST(BioTagsSpansTest, SpansToWordTags) {
  const std::vector<Span> words = {{0, 4}, {5, 10}, {11, 13}, {14, 20}};
  EXPECT_EQ(SpansToWordTags(words, {{14, 20, "LOC"}, {0, 10, "PER"}}),
            (Tags{"B-PER", "I-PER", "O", "B-LOC"}));
  // A word overlapping an entity belongs to it; the first entity wins.
  EXPECT_EQ(SpansToWordTags(words, {{2, 12, "A"}, {6, 20, "B"}}),
            (Tags{"B-A", "I-A", "I-A", "B-B"}));
  EXPECT_EQ(SpansToWordTags(words, {}), (Tags{"O", "O", "O", "O"}));
}

}  // namespace
}  // namespace ptune::datasets

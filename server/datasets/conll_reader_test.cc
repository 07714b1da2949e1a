// CoNLL through ParseDataset.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/datasets/dataset.h"

namespace ptune::datasets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<Dataset> Conll(const std::string& contents,
                              const std::string& name = "d.conll") {
  return ParseDataset(contents, name, Task::kTag, Format::kAuto);
}

std::string Error(const absl::StatusOr<Dataset>& result) {
  if (result.ok()) return "";
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(result.status().message());
}

TEST(ConllTest, Conll2003Columns) {
  absl::StatusOr<Dataset> d = Conll(
      "-DOCSTART- -X- -X- O\n"
      "\n"
      "EU B-ORG 0\n"
      "rejects O 0\n"
      "German B-MISC 0\n"
      "call O 0\n"
      "\n"
      "\n"
      "Peter B-PER 0\n"
      "Blackburn I-PER 0\n",
      "valid.txt");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->tagging.size(), 2u);
  const TaggingExample& e = d->tagging[0];
  EXPECT_EQ(e.text, "EU rejects German call");
  EXPECT_THAT(e.words, ElementsAre(Span{0, 2, ""}, Span{3, 10, ""},
                                   Span{11, 17, ""}, Span{18, 22, ""}));
  EXPECT_THAT(e.tags, ElementsAre("B-ORG", "O", "B-MISC", "O"));
  EXPECT_THAT(e.entities, ElementsAre(Span{0, 2, "ORG"}, Span{11, 17, "MISC"}));
  EXPECT_THAT(d->tagging[1].entities, ElementsAre(Span{0, 15, "PER"}));
  EXPECT_THAT(d->labels, ElementsAre("MISC", "ORG", "PER"));
}

TEST(ConllTest, Wnut17Columns) {
  // Tab separated; sentences separated by a line holding one tab; the file
  // ends with a line holding only U+FEFF, as WNUT-17's dev.conll does.
  absl::StatusOr<Dataset> d = Conll(
      "Discivery\tB-corporation\nChannel\tI-corporation\n!\tO\n\t\n"
      "Dubbz\xEF\xBB\xBF\tB-person\n\xEF\xBB\xBF");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->tagging.size(), 2u);
  EXPECT_EQ(d->tagging[0].text, "Discivery Channel !");
  EXPECT_THAT(d->tagging[0].entities, ElementsAre(Span{0, 17, "corporation"}));
  // The zero-width character stays part of the token (one code point).
  EXPECT_EQ(d->tagging[1].text, "Dubbz\xEF\xBB\xBF");
  EXPECT_THAT(d->tagging[1].entities, ElementsAre(Span{0, 6, "person"}));
  EXPECT_THAT(d->labels, ElementsAre("corporation", "person"));
}

TEST(ConllTest, TagIsTheLastValidColumn) {
  absl::StatusOr<Dataset> d =
      Conll("EU NNP B-NP B-ORG\nrejects VBZ B-VP O\r\nO O O 0\n", "x.iob");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->tagging.size(), 1u);
  EXPECT_EQ(d->tagging[0].text, "EU rejects O");
  EXPECT_THAT(d->tagging[0].tags, ElementsAre("B-ORG", "O", "O"));
}

TEST(ConllTest, Iob1IsNormalized) {
  absl::StatusOr<Dataset> d =
      Conll("A I-PER\nB I-PER\nC B-PER\nD O\nE I-LOC\nF I-ORG\n", "x.bio");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->tagging[0].tags,
              ElementsAre("B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG"));
  EXPECT_THAT(d->tagging[0].entities,
              ElementsAre(Span{0, 3, "PER"}, Span{4, 5, "PER"},
                          Span{8, 9, "LOC"}, Span{10, 11, "ORG"}));
}

TEST(ConllTest, AllOutsideSentencesAreKept) {
  absl::StatusOr<Dataset> d = Conll("a O\nb O\n\nc O\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->tagging.size(), 2u);
  EXPECT_TRUE(d->labels.empty());
}

TEST(ConllTest, Errors) {
  EXPECT_THAT(Error(Conll("EU B-ORG\nrejects\n")),
              HasSubstr("d.conll:2: missing tag column: the line \"rejects\" "
                        "needs a token and a BIO tag"));
  EXPECT_THAT(Error(Conll("EU B-ORG\n\nPeter X-PER\n")),
              HasSubstr("d.conll:3: malformed tag \"X-PER\": expected O, "
                        "B-<type> or I-<type>"));
  EXPECT_THAT(Error(Conll("EU B-\n")),
              HasSubstr("d.conll:1: malformed tag \"B-\": missing entity "
                        "type"));
  EXPECT_THAT(Error(Conll("EU B-ORG 0\nPeter X-PER 0\n")),
              HasSubstr("d.conll:2: no valid BIO tag in columns 2-3 "
                        "(\"X-PER\", \"0\"); column 2: malformed tag "
                        "\"X-PER\""));
  EXPECT_THAT(Error(Conll("EU B-ORG\nx\xC3\n")),
              HasSubstr("d.conll:2: invalid UTF-8"));
  EXPECT_THAT(Error(Conll("\n-DOCSTART- O\n\n\t\n")),
              HasSubstr("d.conll: no examples"));
  EXPECT_THAT(Error(ParseDataset("EU B-ORG\n", "d.conll", Task::kClassify,
                                 Format::kAuto)),
              HasSubstr("d.conll: CoNLL files hold tagging data only"));
}

}  // namespace
}  // namespace ptune::datasets

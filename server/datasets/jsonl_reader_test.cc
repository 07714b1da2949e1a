// JSONL through ParseDataset.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/datasets/dataset.h"

namespace ptune::datasets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<Dataset> Classify(const std::string& contents) {
  return ParseDataset(contents, "d.jsonl", Task::kClassify, Format::kAuto);
}
absl::StatusOr<Dataset> Tag(const std::string& contents) {
  return ParseDataset(contents, "d.jsonl", Task::kTag, Format::kAuto);
}

std::string Error(const absl::StatusOr<Dataset>& result) {
  if (result.ok()) return "";
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(result.status().message());
}

TEST(JsonlClassifyTest, StringAndIntegerLabels) {
  absl::StatusOr<Dataset> d = Classify(
      "{\"text\": \"great\", \"label\": 1, \"id\": 5}\n"
      "\n"
      "   \r\n"
      "{\"label\": \"neg\", \"text\": \"K\\u00f6ln \\ud83d\\ude00\"}\n"
      "{\"text\": \"x\", \"label\": -2}");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->classification.size(), 3u);
  EXPECT_EQ(d->classification[0].label, "1");
  EXPECT_EQ(d->classification[1].text, "K\xC3\xB6ln \xF0\x9F\x98\x80");
  EXPECT_EQ(d->classification[2].label, "-2");
  EXPECT_THAT(d->labels, ElementsAre("-2", "1", "neg"));
}

TEST(JsonlClassifyTest, Errors) {
  const std::string ok = "{\"text\": \"fine\", \"label\": 0}\n";
  EXPECT_THAT(Error(Classify(ok + "{\"text\": \"x\"}\n")),
              HasSubstr("d.jsonl:2: missing \"label\""));
  EXPECT_THAT(Error(Classify(ok + "{\"text\": \"x\", \"label\": null}\n")),
              HasSubstr("d.jsonl:2: missing \"label\""));
  EXPECT_THAT(Error(Classify(ok + "{\"text\": \"x\", \"label\": \"\"}\n")),
              HasSubstr("d.jsonl:2: empty \"label\""));
  EXPECT_THAT(Error(Classify(ok + "{\"text\": \"x\", \"label\": 1.5}\n")),
              HasSubstr("d.jsonl:2: \"label\" must be a string or an integer, "
                        "not number"));
  EXPECT_THAT(Error(Classify(ok + "{\"text\": \"x\", \"label\": true}\n")),
              HasSubstr("not boolean"));
  EXPECT_THAT(Error(Classify(ok + "\n{\"label\": 1}\n")),
              HasSubstr("d.jsonl:3: missing \"text\""));
  EXPECT_THAT(Error(Classify(ok + "{\"text\": 3, \"label\": 1}\n")),
              HasSubstr("d.jsonl:2: \"text\" must be a string, not number"));
  EXPECT_THAT(Error(Classify(ok + "{\"text\": \" \", \"label\": 1}\n")),
              HasSubstr("d.jsonl:2: empty text"));
  EXPECT_THAT(Error(Classify(ok + "{\"text\": \"x\", \"label\": 1\n")),
              HasSubstr("d.jsonl:2: bad JSON: parse error"));
  EXPECT_THAT(Error(Classify(ok + "{\"text\": \"x\"} trailing\n")),
              HasSubstr("d.jsonl:2: bad JSON"));
  EXPECT_THAT(Error(Classify(ok + "[1, 2]\n")),
              HasSubstr("d.jsonl:2: expected a JSON object, got array"));
  EXPECT_THAT(Error(Classify(ok + "{\"text\": \"\xE6\x97\", \"label\": 1}\n")),
              HasSubstr("d.jsonl:2: invalid UTF-8"));
  EXPECT_THAT(Error(Classify("\n\n")), HasSubstr("d.jsonl: no examples"));
}

TEST(JsonlTagTest, TokensAndTags) {
  absl::StatusOr<Dataset> d = Tag(
      "{\"tokens\": [\"Angela\", \"Merkel\", \"besucht\", \"K\xC3\xB6ln\", "
      "\".\"], \"tags\": [\"I-PER\", \"I-PER\", \"O\", \"I-LOC\", \"O\"]}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->tagging.size(), 1u);
  const TaggingExample& e = d->tagging[0];
  EXPECT_EQ(e.text, "Angela Merkel besucht K\xC3\xB6ln .");
  EXPECT_THAT(e.words,
              ElementsAre(Span{0, 6, ""}, Span{7, 13, ""}, Span{14, 21, ""},
                          Span{22, 26, ""}, Span{27, 28, ""}));
  // IOB1 input becomes IOB2.
  EXPECT_THAT(e.tags, ElementsAre("B-PER", "I-PER", "O", "B-LOC", "O"));
  EXPECT_THAT(e.entities, ElementsAre(Span{0, 13, "PER"}, Span{22, 26, "LOC"}));
  EXPECT_THAT(d->labels, ElementsAre("LOC", "PER"));
}

TEST(JsonlTagTest, TokensAndTagsErrors) {
  const std::string ok = "{\"tokens\": [\"a\"], \"tags\": [\"O\"]}\n";
  EXPECT_THAT(
      Error(Tag(ok + "{\"tokens\": [\"a\", \"b\"], \"tags\": [\"O\"]}\n")),
      HasSubstr("d.jsonl:2: 2 tokens but 1 tags"));
  EXPECT_THAT(Error(Tag(ok + "{\"tokens\": [\"a\"], \"tags\": [\"X-PER\"]}\n")),
              HasSubstr("d.jsonl:2: tags[0]: malformed tag \"X-PER\""));
  EXPECT_THAT(Error(Tag(ok + "{\"tokens\": [\"a\", \"b\"], \"tags\": [\"O\", "
                             "\"B-\"]}\n")),
              HasSubstr("d.jsonl:2: tags[1]: malformed tag \"B-\": missing "
                        "entity type"));
  EXPECT_THAT(Error(Tag(ok + "{\"tokens\": [], \"tags\": []}\n")),
              HasSubstr("d.jsonl:2: no tokens"));
  EXPECT_THAT(Error(Tag(ok + "{\"tokens\": [\"\"], \"tags\": [\"O\"]}\n")),
              HasSubstr("d.jsonl:2: tokens[0] is empty"));
  EXPECT_THAT(Error(Tag(ok + "{\"tokens\": [\"a b\"], \"tags\": [\"O\"]}\n")),
              HasSubstr("d.jsonl:2: tokens[0] \"a b\" contains whitespace"));
  EXPECT_THAT(Error(Tag(ok + "{\"tokens\": [\"a\"], \"tags\": [1]}\n")),
              HasSubstr("d.jsonl:2: tags[0] must be a string, not number"));
  EXPECT_THAT(Error(Tag(ok + "{\"tokens\": \"a\", \"tags\": [\"O\"]}\n")),
              HasSubstr("d.jsonl:2: \"tokens\" must be a list of strings"));
  EXPECT_THAT(Error(Tag(ok + "{\"tokens\": [\"a\"]}\n")),
              HasSubstr("d.jsonl:2: missing \"tags\""));
  EXPECT_THAT(Error(Tag(ok + "{\"text\": \"a\"}\n")),
              HasSubstr("d.jsonl:2: a tagging example needs"));
  EXPECT_THAT(Error(Tag(ok + "{\"tokens\": [\"a\"], \"tags\": [\"O\"], "
                             "\"entities\": []}\n")),
              HasSubstr("d.jsonl:2: has both \"tokens\" and \"entities\""));
}

TEST(JsonlTagTest, TextAndEntities) {
  // "Müller (CDU) flog nach São Paulo." -- offsets in code points.
  absl::StatusOr<Dataset> d =
      Tag("{\"text\": \"M\xC3\xBCller (CDU) flog nach S\xC3\xA3o Paulo.\", "
          "\"entities\": [{\"start\": 23, \"end\": 32, \"type\": \"LOC\"}, "
          "{\"start\": 0, \"end\": 6, \"type\": \"PER\"}, "
          "{\"start\": 8, \"end\": 11, \"type\": \"ORG\"}]}\n"
          "{\"text\": \"nothing here\", \"entities\": []}\n");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->tagging.size(), 2u);
  const TaggingExample& e = d->tagging[0];
  EXPECT_THAT(
      e.words,
      ElementsAre(Span{0, 6, ""}, Span{7, 8, ""}, Span{8, 11, ""},
                  Span{11, 12, ""}, Span{13, 17, ""}, Span{18, 22, ""},
                  Span{23, 26, ""}, Span{27, 32, ""}, Span{32, 33, ""}));
  EXPECT_THAT(e.tags, ElementsAre("B-PER", "O", "B-ORG", "O", "O", "O", "B-LOC",
                                  "I-LOC", "O"));
  EXPECT_THAT(e.entities, ElementsAre(Span{0, 6, "PER"}, Span{8, 11, "ORG"},
                                      Span{23, 32, "LOC"}));
  EXPECT_THAT(d->tagging[1].tags, ElementsAre("O", "O"));
  EXPECT_THAT(d->labels, ElementsAre("LOC", "ORG", "PER"));
}

TEST(JsonlTagTest, TextAndEntitiesErrors) {
  const std::string ok = "{\"text\": \"a\", \"entities\": []}\n";
  auto line = [&](const std::string& entities) {
    return Error(Tag(ok +
                     "{\"text\": \"John Smith-Jones, Paris\", "
                     "\"entities\": [" +
                     entities + "]}\n"));
  };
  // Words: John[0,4) Smith[5,10) -[10,11) Jones[11,16) ,[16,17) Paris[18,23)
  EXPECT_EQ(line("{\"start\": 0, \"end\": 16, \"type\": \"PER\"}, "
                 "{\"start\": 18, \"end\": 23, \"type\": \"LOC\"}"),
            "");
  EXPECT_THAT(line("{\"start\": 0, \"end\": 3, \"type\": \"PER\"}"),
              HasSubstr("d.jsonl:2: entities[0] (PER [0, 3)) ends inside the "
                        "word \"John\" [0, 4)"));
  EXPECT_THAT(line("{\"start\": 18, \"end\": 23, \"type\": \"LOC\"}, "
                   "{\"start\": 6, \"end\": 10, \"type\": \"PER\"}"),
              HasSubstr("d.jsonl:2: entities[1] (PER [6, 10)) starts inside "
                        "the word \"Smith\" [5, 10)"));
  EXPECT_THAT(line("{\"start\": 4, \"end\": 10, \"type\": \"PER\"}"),
              HasSubstr("entities[0] (PER [4, 10)) starts on whitespace"));
  EXPECT_THAT(line("{\"start\": 0, \"end\": 5, \"type\": \"PER\"}"),
              HasSubstr("entities[0] (PER [0, 5)) ends on whitespace"));
  EXPECT_THAT(line("{\"start\": 18, \"end\": 24, \"type\": \"LOC\"}"),
              HasSubstr("d.jsonl:2: entities[0] (LOC [18, 24)) is out of "
                        "range: the text has 23 code points"));
  EXPECT_THAT(line("{\"start\": -1, \"end\": 4, \"type\": \"PER\"}"),
              HasSubstr("is out of range"));
  EXPECT_THAT(line("{\"start\": 4, \"end\": 4, \"type\": \"PER\"}"),
              HasSubstr("is out of range"));
  EXPECT_THAT(line("{\"start\": 5, \"end\": 16, \"type\": \"PER\"}, "
                   "{\"start\": 0, \"end\": 10, \"type\": \"PER\"}"),
              HasSubstr("d.jsonl:2: entities[0] (PER [5, 16)) overlaps "
                        "entities[1] (PER [0, 10))"));
  EXPECT_THAT(line("{\"start\": 0, \"end\": 4}"),
              HasSubstr("d.jsonl:2: entities[0]: missing \"type\""));
  EXPECT_THAT(line("{\"start\": 0, \"end\": 4, \"type\": \"\"}"),
              HasSubstr("entities[0]: empty entity type"));
  EXPECT_THAT(
      line("{\"start\": 0, \"end\": 4, \"type\": \"A B\"}"),
      HasSubstr("entities[0]: entity type \"A B\" contains whitespace"));
  EXPECT_THAT(
      line("{\"start\": \"0\", \"end\": 4, \"type\": \"PER\"}"),
      HasSubstr("entities[0]: \"start\" must be an integer, not string"));
  EXPECT_THAT(line("{\"end\": 4, \"type\": \"PER\"}"),
              HasSubstr("entities[0]: missing \"start\""));
  EXPECT_THAT(line("[0, 4, \"PER\"]"),
              HasSubstr("entities[0] must be an object, not array"));
  EXPECT_THAT(Error(Tag(ok + "{\"text\": \"a\", \"entities\": {}}\n")),
              HasSubstr("d.jsonl:2: \"entities\" must be a list, not object"));
}

}  // namespace
}  // namespace ptune::datasets

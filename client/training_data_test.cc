#include "client/training_data.h"

#include <filesystem>
#include <string>

#include "client/local_files.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace ptune::client {
namespace {

std::string TempFile(const std::string& name, const std::string& contents) {
  const std::string path =
      (std::filesystem::path(::testing::TempDir()) / name).string();
  EXPECT_TRUE(WriteLocalFile(path, contents).ok());
  return path;
}

v1::ExampleSet Parse(const std::string& text) {
  v1::ExampleSet set;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &set));
  return set;
}

void ExpectEqual(const v1::ExampleSet& actual, const v1::ExampleSet& expected) {
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(expected, actual)) << diff;
}

TEST(TrainingDataTest, TsvBecomesTextAndLabel) {
  const std::string path = TempFile(
      "client_train.tsv", "sentence\tlabel\na gripping film\t1\ndull\t0\n");
  absl::StatusOr<v1::ExampleSet> set = ReadExampleSet(path, v1::TASK_CLASSIFY);
  ASSERT_TRUE(set.ok()) << set.status();
  ExpectEqual(*set, Parse(R"pb(
    examples { text: "a gripping film" label: "1" }
    examples { text: "dull" label: "0" }
  )pb"));
}

TEST(TrainingDataTest, ConllBecomesTokensAndTags) {
  const std::string path = TempFile("client_train.conll",
                                    "-DOCSTART- -X- -X- O\n"
                                    "\n"
                                    "Zürich B-LOC\n"
                                    "is O\n"
                                    "nice O\n"
                                    "\n"
                                    "Peter B-PER\n"
                                    "Müller I-PER\n");
  absl::StatusOr<v1::ExampleSet> set = ReadExampleSet(path, v1::TASK_TAG);
  ASSERT_TRUE(set.ok()) << set.status();
  ExpectEqual(*set, Parse(R"pb(
    examples {
      tokens: [ "Zürich", "is", "nice" ]
      tags: [ "B-LOC", "O", "O" ]
    }
    examples {
      tokens: [ "Peter", "Müller" ]
      tags: [ "B-PER", "I-PER" ]
    }
  )pb"));
}

TEST(TrainingDataTest, ReaderErrorsComeThrough) {
  const std::string path = TempFile("client_bad.tsv", "text\tlabel\n\t1\n");
  absl::StatusOr<v1::ExampleSet> set = ReadExampleSet(path, v1::TASK_CLASSIFY);
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(set.status().message(), ::testing::HasSubstr("client_bad.tsv:2"));
  EXPECT_EQ(
      ReadExampleSet("/nonexistent.tsv", v1::TASK_CLASSIFY).status().code(),
      absl::StatusCode::kNotFound);
}

TEST(TrainingDataTest, ParseTask) {
  EXPECT_EQ(*ParseTask("classify"), v1::TASK_CLASSIFY);
  EXPECT_EQ(*ParseTask("tag"), v1::TASK_TAG);
  EXPECT_EQ(ParseTask("ner").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ptune::client

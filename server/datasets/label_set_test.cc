#include "server/datasets/label_set.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::datasets {
namespace {

using ::testing::HasSubstr;

absl::Status Check(Task task, std::vector<std::string> labels, int max = 256) {
  return ValidateLabelSet(task, labels, max);
}

TEST(LabelSetTest, Classification) {
  EXPECT_TRUE(Check(Task::kClassify, {"neg", "pos"}).ok());
  EXPECT_THAT(Check(Task::kClassify, {"pos", "pos", "neg"}).message(),
              HasSubstr("duplicate"));
  EXPECT_THAT(Check(Task::kClassify, {"pos"}).message(), HasSubstr("at least 2"));
  EXPECT_THAT(Check(Task::kClassify, {"pos", ""}).message(), HasSubstr("1-128 bytes"));
  EXPECT_THAT(Check(Task::kClassify, {"a", "b", "c"}, 2).message(),
              HasSubstr("the limit is 2 (--max_labels)"));
}

TEST(LabelSetTest, Tagging) {
  EXPECT_TRUE(Check(Task::kTag, {"O", "B-PER", "I-PER"}).ok());
  EXPECT_TRUE(Check(Task::kTag, {"I-LOC", "O", "B-LOC"}).ok());  // any order
  // Not BIO: "pos" would have become entity type "os".
  EXPECT_FALSE(Check(Task::kTag, {"neg", "pos"}).ok());
  EXPECT_THAT(Check(Task::kTag, {"O"}).message(), HasSubstr("at least one entity type"));
  EXPECT_THAT(Check(Task::kTag, {"O", "B-PER"}).message(),
              HasSubstr("needs both B-PER and I-PER"));
  EXPECT_THAT(Check(Task::kTag, {"O", "O", "B-X", "I-X"}).message(),
              HasSubstr("appears twice"));
  EXPECT_THAT(Check(Task::kTag, {"B-X", "I-X"}).message(), HasSubstr("O exactly once"));
  EXPECT_THAT(Check(Task::kTag, {"O", "B-X", "I-X", "B-Y", "I-Y"}, 3).message(),
              HasSubstr("5 tags; the limit is 3"));
}

TEST(LabelSetTest, Names) {
  EXPECT_TRUE(ValidateLabelNames({"PER", "LOC"}, "labels").ok());
  EXPECT_THAT(ValidateLabelNames({"PER", "PER"}, "labels").message(),
              HasSubstr("labels[1] \"PER\" is a duplicate"));
}

}  // namespace
}  // namespace ptune::datasets

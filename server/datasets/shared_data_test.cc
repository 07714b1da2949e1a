// Reads the real datasets of ../shared/data (see its README.md) and checks
// their sizes. Skips when the folder is absent (e.g. a user's fresh clone).
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/datasets/dataset.h"
#include "tests/testing/test_paths.h"

namespace ptune::datasets {
namespace {

using ::testing::ElementsAre;

class SharedDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ptune::testing::SharedDataDir();
    if (dir_.empty()) {
      GTEST_SKIP() << "../shared/data is absent next to the project root; "
                      "the real-dataset checks need it";
    }
  }

  absl::StatusOr<Dataset> Read(const std::string& relative, Task task) {
    return ReadDataset(dir_ + "/" + relative, task);
  }

  std::string dir_;
};

size_t CountTokens(const Dataset& d) {
  size_t tokens = 0;
  for (const auto& e : d.tagging) tokens += e.words.size();
  return tokens;
}

size_t CountEntities(const Dataset& d) {
  size_t entities = 0;
  for (const auto& e : d.tagging) entities += e.entities.size();
  return entities;
}

TEST_F(SharedDataTest, Sst2) {
  absl::StatusOr<Dataset> dev = Read("cls/sst2/dev.tsv", Task::kClassify);
  ASSERT_TRUE(dev.ok()) << dev.status();
  EXPECT_EQ(dev->classification.size(), 872u);
  EXPECT_THAT(dev->labels, ElementsAre("0", "1"));
  EXPECT_EQ(dev->classification[0].text,
            "it 's a charming and often affecting journey . ");
  EXPECT_EQ(dev->classification[0].label, "1");
  std::map<std::string, int> counts;
  for (const auto& e : dev->classification) ++counts[e.label];
  EXPECT_EQ(counts["0"] + counts["1"], 872);

  absl::StatusOr<Dataset> test =
      Read("cls/sst2/test-labeled.tsv", Task::kClassify);
  ASSERT_TRUE(test.ok()) << test.status();
  EXPECT_EQ(test->classification.size(), 1821u);
  absl::StatusOr<Dataset> train = Read("cls/sst2/train.tsv", Task::kClassify);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->classification.size(), 67349u);
  EXPECT_THAT(train->labels, ElementsAre("0", "1"));
}

TEST_F(SharedDataTest, Conll2003) {
  absl::StatusOr<Dataset> valid = Read("ner/conll2003/valid.txt", Task::kTag);
  ASSERT_TRUE(valid.ok()) << valid.status();
  EXPECT_EQ(valid->tagging.size(), 3250u);
  EXPECT_EQ(CountTokens(*valid), 51362u);
  EXPECT_EQ(CountEntities(*valid), 5942u);  // As seqeval counts them.
  EXPECT_THAT(valid->labels, ElementsAre("LOC", "MISC", "ORG", "PER"));
  const TaggingExample& first = valid->tagging[0];
  EXPECT_EQ(first.text,
            "CRICKET - LEICESTERSHIRE TAKE OVER AT TOP AFTER INNINGS "
            "VICTORY .");
  EXPECT_THAT(first.entities, ElementsAre(Span{10, 24, "ORG"}));

  for (const auto& [file, sentences] : std::map<std::string, size_t>{
           {"train.txt", 14041}, {"test.txt", 3453}}) {
    absl::StatusOr<Dataset> d = Read("ner/conll2003/" + file, Task::kTag);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->tagging.size(), sentences) << file;
    EXPECT_THAT(d->labels, ElementsAre("LOC", "MISC", "ORG", "PER"));
  }
}

TEST_F(SharedDataTest, Wnut17) {
  absl::StatusOr<Dataset> dev = Read("ner/wnut17/dev.conll", Task::kTag);
  ASSERT_TRUE(dev.ok()) << dev.status();
  // The README says 1,008 sentences, but the file holds 1,009 blocks
  // separated by blank lines (as Hugging Face's wnut_17 validation split);
  // its last line is a lone U+FEFF, read as a separator.
  EXPECT_EQ(dev->tagging.size(), 1009u);
  EXPECT_EQ(CountTokens(*dev), 15733u);
  EXPECT_EQ(CountEntities(*dev), 836u);  // As seqeval counts them.
  EXPECT_THAT(dev->labels, ElementsAre("corporation", "creative-work", "group",
                                       "location", "person", "product"));
  // The README says 1,000 training sentences; the file holds 3,394 (the
  // original WNUT-17 training set).
  for (const auto& [file, sentences] : std::map<std::string, size_t>{
           {"train.conll", 3394}, {"test.conll", 1287}}) {
    absl::StatusOr<Dataset> d = Read("ner/wnut17/" + file, Task::kTag);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->tagging.size(), sentences) << file;
  }
}

}  // namespace
}  // namespace ptune::datasets

// The search schedule's bookkeeping, and SearchPrompts against the real
// (frozen) backbone on a toy task: the winner's search run plus its
// continuation equals the same two phases run by hand.
#include "server/training/prompt_search.h"

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "gtest/gtest.h"
#include "server/training/task_batch.h"
#include "server/training/toy_training_test.h"

namespace ptune::training {
namespace {

namespace fs = std::filesystem;
using datasets::Dataset;
using testing::Sentiment;

TEST(SearchScheduleTest, OneCandidateIsAPlainRun) {
  const SearchSchedule plain(1, 2, 5);
  EXPECT_FALSE(plain.searching());
  EXPECT_FALSE(plain.continues());
  EXPECT_EQ(plain.trial_epochs(), 5);
  EXPECT_EQ(plain.trial_patience(3), 3);
  EXPECT_EQ(plain.total_epochs(), 5);
  EXPECT_EQ(plain.epochs_before_trial(0), 0);
}

TEST(SearchScheduleTest, CandidatesTrainSearchEpochsThenTheWinnerGoesOn) {
  const SearchSchedule search(3, 2, 5);
  EXPECT_TRUE(search.searching());
  EXPECT_TRUE(search.continues());
  EXPECT_EQ(search.trial_epochs(), 2);
  EXPECT_EQ(search.trial_patience(3), 2);
  EXPECT_EQ(search.trial_patience(1), 1);
  EXPECT_EQ(search.total_epochs(), 3 * 2 + 3);
  EXPECT_EQ(search.epochs_before_trial(2), 4);
  // The winner's epochs 3..5 are the job's epochs 7..9.
  EXPECT_EQ(search.epochs_before_continuation() + 3, 7);

  const SearchSchedule whole(2, 5, 5);  // candidates train every epoch
  EXPECT_FALSE(whole.continues());
  EXPECT_EQ(whole.total_epochs(), 10);
  EXPECT_EQ(SearchSchedule(2, 9, 4).trial_epochs(), 4);  // clamped to epochs
  EXPECT_EQ(SearchSchedule(2, 0, 4).trial_epochs(), 1);
}

TEST(SearchScheduleTest, TiesKeepTheEarlierCandidateAndNaNNeverWins) {
  SearchSchedule search(4, 1, 3);
  EXPECT_FALSE(search.Record(std::nan("")));
  EXPECT_TRUE(search.Record(0.5));
  EXPECT_FALSE(search.Record(0.5));
  EXPECT_TRUE(search.Record(0.75));
  EXPECT_EQ(search.best(), 3u);
}

class PromptSearchTest : public testing::ToyTrainingTest {
 protected:
  static std::vector<prompts::PromptSpec> Lengths(std::vector<int> lengths) {
    std::vector<prompts::PromptSpec> specs;
    for (int length : lengths) {
      specs.emplace_back();
      specs.back().length = length;
    }
    return specs;
  }

  static std::vector<std::string> Leftovers() {
    std::vector<std::string> left;
    for (const auto& entry : fs::directory_iterator(fs::temp_directory_path())) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("ptune-search-", 0) == 0) left.push_back(name);
    }
    return left;
  }
};

TEST_F(PromptSearchTest, TheWinnersContinuationEqualsItsTwoPhasesRunByHand) {
  const Dataset data = Sentiment();
  const std::vector<prompts::PromptSpec> candidates = Lengths({2, 4});
  std::vector<int> trial_epochs;
  auto search = SearchPrompts(*backbone_, candidates, data, data, Quick(3), 1, nullptr,
                              [&](const SearchTrial& t) {
                                trial_epochs.push_back(static_cast<int>(t.result.epochs.size()));
                              });
  ASSERT_TRUE(search.ok()) << search.status();
  EXPECT_EQ(trial_epochs, (std::vector<int>{1, 1}));
  ASSERT_EQ(search->trials.size(), 2u);
  const size_t winner = search->trials[1].result.best_valid_metric >
                                search->trials[0].result.best_valid_metric
                            ? 1
                            : 0;
  EXPECT_EQ(search->best_index, winner);
  EXPECT_EQ(search->best->spec().length, candidates[winner].length);
  // The winner's whole run: its search epoch and the two after it.
  ASSERT_EQ(search->final_result.epochs.size(), 3u);
  EXPECT_EQ(search->final_result.epochs.back().epoch, 3);
  EXPECT_TRUE(Leftovers().empty());

  // By hand: the winner for 1 epoch (patience 1), then on to 3 from its
  // checkpoint.
  const fs::path checkpoint = fs::temp_directory_path() / "by-hand.ckpt";
  auto model = prompts::PromptModel::Create(*backbone_, data.task, ModelLabels(data),
                                            candidates[winner], Quick(3).seed);
  ASSERT_TRUE(model.ok()) << model.status();
  TrainOptions first = Quick(1);
  first.patience = 1;
  first.checkpoint_path = checkpoint.string();
  ASSERT_TRUE(Train(*backbone_, **model, data, data, first).ok());
  TrainOptions rest = Quick(3);
  rest.checkpoint_path = checkpoint.string();
  ASSERT_TRUE(Train(*backbone_, **model, data, data, rest).ok());
  EXPECT_TRUE((*model)->PromptTensor().equal(search->best->PromptTensor()));
  fs::remove(checkpoint);
}

TEST_F(PromptSearchTest, OneCandidateTrainsWithTheCallersCheckpoint) {
  const Dataset data = Sentiment();
  TrainOptions options = Quick(2);
  options.checkpoint_path = (fs::temp_directory_path() / "single.ckpt").string();
  auto search = SearchPrompts(*backbone_, Lengths({3}), data, data, options, 1);
  ASSERT_TRUE(search.ok()) << search.status();
  EXPECT_EQ(search->trials.size(), 1u);
  EXPECT_EQ(search->final_result.epochs.size(), 2u);  // search_epochs does not apply
  EXPECT_TRUE(fs::exists(options.checkpoint_path));
  fs::remove(options.checkpoint_path);
}

TEST_F(PromptSearchTest, NoCandidatesIsAnError) {
  EXPECT_EQ(SearchPrompts(*backbone_, {}, Sentiment(), Sentiment(), Quick(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ptune::training

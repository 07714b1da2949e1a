// Learnable toy tasks and a fixture with the real (frozen) backbone for the
// training tests: a few steps each, so the suite stays fast.
#ifndef PTUNE_SERVER_TRAINING_TOY_TRAINING_TEST_H_
#define PTUNE_SERVER_TRAINING_TOY_TRAINING_TEST_H_

#include <cstdio>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "server/datasets/dataset.h"
#include "server/prompts/prompt_model.h"
#include "server/training/task_batch.h"
#include "server/training/trainer.h"
#include "tests/testing/shared_backbone.h"

namespace ptune::training::testing {

using datasets::Dataset;
using datasets::Task;

// 40 short reviews, pos / neg.
inline Dataset Sentiment() {
  Dataset d;
  d.task = Task::kClassify;
  const char* pos[] = {"good", "great", "wonderful", "lovely", "excellent"};
  const char* neg[] = {"bad", "awful", "terrible", "boring", "dreadful"};
  const char* frames[] = {"the film was %s", "a %s story", "really %s acting",
                          "%s music and a %s ending"};
  for (const char* frame : frames) {
    for (int i = 0; i < 5; ++i) {
      char buffer[128];
      snprintf(buffer, sizeof(buffer), frame, pos[i], pos[(i + 1) % 5]);
      d.classification.push_back({buffer, "pos"});
      snprintf(buffer, sizeof(buffer), frame, neg[i], neg[(i + 1) % 5]);
      d.classification.push_back({buffer, "neg"});
    }
  }
  d.labels = {"neg", "pos"};
  return d;
}

// 18 sentences, a person and a place each.
inline Dataset People() {
  Dataset d;
  d.task = Task::kTag;
  const char* people[] = {"Alice", "Bob", "Carol", "Dmitri", "Emma", "Farid"};
  const char* places[] = {"Paris", "Lagos", "Lima", "Oslo", "Kyoto", "Quito"};
  for (int i = 0; i < 6; ++i) {
    for (int j = 0; j < 3; ++j) {
      datasets::TaggingExample ex;
      const std::string who = people[i], where = places[(i + j) % 6];
      ex.text = who + " flew to " + where + " today";
      const int w = static_cast<int>(who.size());
      const int p = w + 8;
      ex.words = {{0, w, ""}, {w + 1, w + 4, ""}, {w + 5, w + 7, ""},
                  {p, p + static_cast<int>(where.size()), ""},
                  {p + static_cast<int>(where.size()) + 1,
                   p + static_cast<int>(where.size()) + 6, ""}};
      ex.tags = {"B-PER", "O", "O", "B-LOC", "O"};
      ex.entities = {{0, w, "PER"}, {p, p + static_cast<int>(where.size()), "LOC"}};
      d.tagging.push_back(ex);
    }
  }
  d.labels = {"LOC", "PER"};
  return d;
}

class ToyTrainingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backbone_ = ptune::testing::SharedBackbone();
    if (backbone_ == nullptr) GTEST_SKIP() << "default backbone not installed";
  }

  std::unique_ptr<prompts::PromptModel> Make(const Dataset& data,
                                             const prompts::PromptSpec& spec) {
    auto model = prompts::PromptModel::Create(*backbone_, data.task,
                                              ModelLabels(data), spec, 3);
    EXPECT_TRUE(model.ok()) << model.status();
    return std::move(*model);
  }

  static TrainOptions Quick(int epochs) {
    TrainOptions o;
    o.epochs = epochs;
    o.batch_size = 8;
    o.learning_rate = 2e-2;
    o.patience = 100;
    o.seed = 5;
    return o;
  }

  const backbone::Backbone* backbone_ = nullptr;
};

}  // namespace ptune::training::testing

#endif  // PTUNE_SERVER_TRAINING_TOY_TRAINING_TEST_H_

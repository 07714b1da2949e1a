#include "server/prompts/mixed_batch.h"

#include <ATen/record_function.h>
#include <torch/torch.h>

#include "gtest/gtest.h"
#include "tests/testing/shared_backbone.h"

namespace ptune::prompts {
namespace {

class MixedBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backbone_ = ptune::testing::SharedBackbone();
    if (backbone_ == nullptr) GTEST_SKIP() << "default backbone not installed";
    PromptSpec s;
    s.kind = PromptKind::kShallow;
    s.init = PromptInit::kVocab;
    s.length = 5;
    Add(s);  // shallow prefix, cls
    s.length = 3;
    s.placement = Placement::kInfix;
    s.pooling = HeadPooling::kMean;
    Add(s);  // shallow infix, mean
    s.length = 4;
    s.placement = Placement::kPrefixInfix;
    s.pooling = HeadPooling::kCls;
    Add(s);  // shallow prefix + infix
    s = {};
    s.kind = PromptKind::kShallow;
    s.init = PromptInit::kVocab;
    s.length = 6;
    s.template_text = "<soft:2> {text} It was <soft:4> [MASK] .";
    s.pooling = HeadPooling::kMask;
    Add(s);  // shallow template, mask slot
    s = {};
    s.length = 4;
    Add(s);  // deep, cls
    s.length = 2;
    Add(s, datasets::Task::kTag);  // deep tagging
    s = {};
    s.kind = PromptKind::kShallow;
    s.init = PromptInit::kVocab;
    s.length = 7;
    Add(s, datasets::Task::kTag);  // shallow tagging
    s = {};
    s.length = 3;
    s.case_embeddings = true;
    Add(s, datasets::Task::kTag);  // deep tagging with case embeddings
    s.kind = PromptKind::kShallow;
    s.init = PromptInit::kVocab;
    Add(s);  // shallow classification with case embeddings
    // Heads of other sizes share the batched product (padded classes).
    s = {};
    s.length = 4;
    Add(s, datasets::Task::kClassify, {"yes", "no"});
    Add(s, datasets::Task::kTag, {"O", "B-LOC", "I-LOC", "B-PER", "I-PER"});
  }

  void Add(const PromptSpec& spec, datasets::Task task = datasets::Task::kClassify,
           std::vector<std::string> labels = {}) {
    if (labels.empty()) {
      labels = task == datasets::Task::kTag ? std::vector<std::string>{"O", "B-PER", "I-PER"}
                                            : std::vector<std::string>{"neg", "pos", "neu"};
    }
    auto model = PromptModel::Create(*backbone_, task, labels, spec,
                                     static_cast<uint64_t>(models_.size() + 7));
    ASSERT_TRUE(model.ok()) << model.status();
    if (spec.case_embeddings) {  // they start at zero: make them matter
      torch::NoGradGuard no_grad;
      (*model)->CaseEmbeddings().normal_(0, 0.05);
    }
    models_.push_back(std::move(*model));
  }

  // Row i of the batch: model i % models, text i % texts.
  std::vector<MixedRow> Rows(int n) {
    std::vector<MixedRow> rows;
    for (int i = 0; i < n; ++i) {
      const PromptModel& model = *models_[i % models_.size()];
      auto made = MakeMixedRows(*backbone_, model, {texts_[i % texts_.size()]}, 64);
      EXPECT_TRUE(made.ok()) << made.status();
      rows.push_back(std::move(made->front()));
    }
    return rows;
  }

  at::Tensor Alone(const PromptModel& model, const std::string& text) {
    auto batch = model.Tokenize(*backbone_, {text}, 64);
    EXPECT_TRUE(batch.ok()) << batch.status();
    auto logits = model.Logits(*backbone_, *batch, /*training=*/false);
    EXPECT_TRUE(logits.ok()) << logits.status();
    return (*logits)[0];
  }

  const backbone::Backbone* backbone_ = nullptr;
  std::vector<std::unique_ptr<PromptModel>> models_;
  std::vector<std::string> texts_ = {
      "a fine film",
      "dull, far too long, and the ending never seems to arrive at all",
      "Alice met Bob in Paris",
      "ok",
      "NATO and the EU met iPhone makers"};
};

TEST_F(MixedBatchTest, EveryRowEqualsItsPromptAlone) {
  torch::NoGradGuard no_grad;
  const int n = 2 * static_cast<int>(models_.size()) + 3;
  auto batch = MakeMixedBatch(*backbone_, Rows(n), /*training=*/false);
  ASSERT_TRUE(batch.ok()) << batch.status();
  auto logits = MixedLogits(*backbone_, *batch, false);
  ASSERT_TRUE(logits.ok()) << logits.status();
  ASSERT_EQ(logits->size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const PromptModel& model = *models_[i % models_.size()];
    const at::Tensor alone = Alone(model, texts_[i % texts_.size()]);
    const at::Tensor mixed = (*logits)[i];
    ASSERT_EQ(mixed.sizes(), alone.sizes()) << "row " << i;
    EXPECT_LE((mixed - alone).abs().max().item<double>(), 1e-5) << "row " << i;
  }
}

// The heads of a batch run as one batched product per task: a batch over 8
// prompts launches as many matrix products as one over a single prompt.
TEST_F(MixedBatchTest, HeadsCostTheSameKernelsForOneOrManyPrompts) {
  torch::NoGradGuard no_grad;
  PromptSpec spec;
  spec.kind = PromptKind::kShallow;
  spec.init = PromptInit::kVocab;
  spec.length = 5;
  std::vector<std::unique_ptr<PromptModel>> prompts;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    auto model = PromptModel::Create(*backbone_, datasets::Task::kClassify,
                                     {"neg", "pos", "neu"}, spec, seed);
    ASSERT_TRUE(model.ok()) << model.status();
    prompts.push_back(std::move(*model));
  }
  static thread_local int products = 0;
  const auto count_products = [&](int distinct) {
    std::vector<MixedRow> rows;
    for (int i = 0; i < 16; ++i) {
      auto made = MakeMixedRows(*backbone_, *prompts[i % distinct], {texts_[i % 2]}, 64);
      EXPECT_TRUE(made.ok()) << made.status();
      rows.push_back(std::move(made->front()));
    }
    auto batch = MakeMixedBatch(*backbone_, std::move(rows), false);
    EXPECT_TRUE(batch.ok()) << batch.status();
    products = 0;
    const at::CallbackHandle handle = at::addThreadLocalCallback(
        at::RecordFunctionCallback(+[](const at::RecordFunction& fn)
                                       -> std::unique_ptr<at::ObserverContext> {
          const std::string name = fn.name();
          if (name == "aten::addmm" || name == "aten::mm" || name == "aten::bmm" ||
              name == "aten::baddbmm" || name == "aten::linear" || name == "aten::matmul") {
            ++products;
          }
          return nullptr;
        }));
    auto logits = MixedLogits(*backbone_, *batch, false);
    at::removeCallback(handle);
    EXPECT_TRUE(logits.ok()) << logits.status();
    return products;
  };
  const int one = count_products(1);
  EXPECT_GT(one, 0);
  EXPECT_EQ(count_products(8), one);
}

TEST_F(MixedBatchTest, StatsCountRealAndPaddedTokens) {
  auto rows = Rows(4);
  int64_t real = 0, longest = 0;
  for (const MixedRow& row : rows) {
    real += static_cast<int64_t>(row.encoding.ids.size());
    longest = std::max<int64_t>(longest, row.encoding.ids.size());
  }
  auto batch = MakeMixedBatch(*backbone_, std::move(rows), false);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->rows, 4);
  EXPECT_EQ(batch->real_tokens, real);
  EXPECT_EQ(batch->padded_tokens, 4 * longest);
  EXPECT_GT(batch->padding_ratio(), 0.0);
  EXPECT_EQ(batch->prompt_tokens, 5 + 3 + 4 + 6);
}

TEST_F(MixedBatchTest, GradientsReachOnlyEachRowsOwnPromptAndHead) {
  // Loss on the rows of models 0 (shallow), 4 (deep) and 7 (deep with case
  // embeddings) only.
  const int n = static_cast<int>(models_.size());
  auto batch = MakeMixedBatch(*backbone_, Rows(n), /*training=*/true);
  ASSERT_TRUE(batch.ok()) << batch.status();
  auto logits = MixedLogits(*backbone_, *batch, true);
  ASSERT_TRUE(logits.ok()) << logits.status();
  ((*logits)[0].pow(2).sum() + (*logits)[4].pow(2).sum() +
   (*logits)[7].pow(2).sum())
      .backward();
  EXPECT_GT(models_[7]->CaseEmbeddings().grad().abs().sum().item<double>(), 0);
  for (int m = 0; m < n; ++m) {
    double norm = 0;
    for (const at::Tensor& p : models_[m]->Parameters()) {
      if (p.grad().defined()) norm += p.grad().abs().sum().item<double>();
    }
    if (m == 0 || m == 4 || m == 7) {
      EXPECT_GT(norm, 0) << "model " << m;
    } else {
      EXPECT_EQ(norm, 0) << "model " << m;
    }
  }
  for (const at::Tensor& p : backbone_->Parameters()) {
    EXPECT_FALSE(p.grad().defined());
  }
  // Model 0's gradient is the one its row alone gives.
  std::vector<at::Tensor> mixed_grads;
  for (const at::Tensor& p : models_[0]->Parameters()) {
    mixed_grads.push_back(p.grad().clone());
    p.mutable_grad() = at::Tensor();
  }
  auto alone = models_[0]->Tokenize(*backbone_, {texts_[0]}, 64);
  ASSERT_TRUE(alone.ok());
  auto single = models_[0]->Logits(*backbone_, *alone, true);
  ASSERT_TRUE(single.ok());
  single->pow(2).sum().backward();
  const auto params = models_[0]->Parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_LE((params[i].grad() - mixed_grads[i]).abs().max().item<double>(), 1e-5);
  }
}

TEST_F(MixedBatchTest, RowsMatchTheModelsOwnTokenization) {
  for (const auto& model : models_) {
    auto rows = MakeMixedRows(*backbone_, *model, texts_, 64);
    auto batch = model->Tokenize(*backbone_, texts_, 64);
    ASSERT_TRUE(rows.ok() && batch.ok());
    const auto from_tokens = MixedRowsFromTokens(*model, *batch);
    ASSERT_EQ(rows->size(), texts_.size());
    for (size_t i = 0; i < texts_.size(); ++i) {
      EXPECT_EQ((*rows)[i].encoding.ids, from_tokens[i].encoding.ids);
      EXPECT_EQ((*rows)[i].slot_position, from_tokens[i].slot_position);
      EXPECT_EQ((*rows)[i].template_segments.size(),
                from_tokens[i].template_segments.size());
    }
  }
}

TEST_F(MixedBatchTest, RejectsEmptyBatchAndRowsWithoutPrompt) {
  EXPECT_EQ(MakeMixedBatch(*backbone_, {}, false).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<MixedRow> rows(1);
  rows[0].encoding.ids = {101, 102};
  EXPECT_EQ(MakeMixedBatch(*backbone_, std::move(rows), false).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ptune::prompts

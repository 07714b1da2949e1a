#include "server/prompts/prompt_model.h"

#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "gtest/gtest.h"
#include "tests/testing/shared_backbone.h"

namespace ptune::prompts {
namespace {

namespace fs = std::filesystem;

class PromptModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backbone_ = ptune::testing::SharedBackbone();
    if (backbone_ == nullptr) GTEST_SKIP() << "default backbone not installed";
    dir_ = fs::temp_directory_path() /
           ("ptune_prompt_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<PromptModel> Make(const PromptSpec& spec,
                                    datasets::Task task = datasets::Task::kClassify) {
    auto model = PromptModel::Create(*backbone_, task, {"neg", "pos", "neu"}, spec, 1);
    EXPECT_TRUE(model.ok()) << model.status();
    return std::move(*model);
  }
  at::Tensor Logits(const PromptModel& model, bool training = false) {
    auto batch = backbone_->Tokenize({"a fine film", "dull and far too long"});
    EXPECT_TRUE(batch.ok());
    auto logits = model.Logits(*backbone_, *batch, training);
    EXPECT_TRUE(logits.ok()) << logits.status();
    return *logits;
  }

  const backbone::Backbone* backbone_ = nullptr;
  fs::path dir_;
};

TEST_F(PromptModelTest, EveryKindPlacementAndReparamGivesLogits) {
  std::vector<PromptSpec> specs;
  for (Placement placement : {Placement::kPrefix, Placement::kInfix,
                              Placement::kPrefixInfix}) {
    PromptSpec s;
    s.kind = PromptKind::kShallow;
    s.placement = placement;
    s.init = PromptInit::kVocab;
    s.length = 5;
    specs.push_back(s);
  }
  PromptSpec deep;
  deep.length = 4;
  specs.push_back(deep);
  deep.reparam = Reparam::kMlp;
  deep.mlp_hidden = 32;
  specs.push_back(deep);
  for (const PromptSpec& spec : specs) {
    auto model = Make(spec);
    const at::Tensor logits = Logits(*model);
    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 3}));
    EXPECT_TRUE(logits.isfinite().all().item<bool>());
  }
  PromptSpec tag;
  tag.length = 3;
  auto tagger = Make(tag, datasets::Task::kTag);
  const at::Tensor token_logits = Logits(*tagger);
  EXPECT_EQ(token_logits.dim(), 3);
  EXPECT_EQ(token_logits.size(2), 3);
}

TEST_F(PromptModelTest, PromptDropoutOnlyWhileTraining) {
  PromptSpec spec;
  spec.kind = PromptKind::kShallow;
  spec.init = PromptInit::kVocab;
  spec.dropout = 0.5;
  auto model = Make(spec);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(Logits(*model).equal(Logits(*model)));
  EXPECT_FALSE(Logits(*model, true).equal(Logits(*model, true)));
}

TEST_F(PromptModelTest, TextInitCopiesTokenEmbeddings) {
  PromptSpec spec;
  spec.kind = PromptKind::kShallow;
  spec.init = PromptInit::kText;
  spec.init_text = "great movie";  // two tokens, repeated to 5
  spec.length = 5;
  auto model = Make(spec);
  auto enc = backbone_->tokenizer().Encode("great movie", 0, false);
  ASSERT_TRUE(enc.ok());
  const at::Tensor p = model->PromptTensor();
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(p[i].equal(backbone_->word_embeddings()[enc->ids[i % 2]]));
  }
}

TEST_F(PromptModelTest, SaveLoadRoundTripAndPromptTransfer) {
  PromptSpec spec;
  spec.length = 4;
  spec.reparam = Reparam::kMlp;
  spec.mlp_hidden = 16;
  auto model = Make(spec);
  torch::NoGradGuard no_grad;
  const at::Tensor before = Logits(*model);
  ASSERT_TRUE(model->Save(dir_.string(), {{"metrics", {{"accuracy", 0.5}}}}).ok());
  EXPECT_EQ(model->spec().reparam, Reparam::kNone);  // collapsed
  EXPECT_TRUE(torch::allclose(Logits(*model), before, 1e-5, 1e-6));
  auto loaded = PromptModel::Load(*backbone_, dir_.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE((*loaded)->PromptTensor().equal(model->PromptTensor()));
  EXPECT_TRUE(torch::allclose(Logits(**loaded), before, 1e-5, 1e-6));
  EXPECT_EQ((*loaded)->labels(), model->labels());
  EXPECT_EQ((*loaded)->metadata()["metrics"]["accuracy"], 0.5);

  PromptSpec transfer = spec;
  transfer.reparam = Reparam::kNone;
  transfer.init = PromptInit::kPrompt;
  transfer.init_prompt = dir_.string();
  auto copy = Make(transfer);
  EXPECT_TRUE(copy->PromptTensor().equal(model->PromptTensor()));
  transfer.length = 5;
  EXPECT_FALSE(PromptModel::Create(*backbone_, datasets::Task::kClassify,
                                   {"a", "b"}, transfer, 1).ok());
}

TEST_F(PromptModelTest, RefusesArtifactOfAnotherBackbone) {
  PromptSpec spec;
  spec.length = 2;
  auto model = Make(spec);
  ASSERT_TRUE(model->Save(dir_.string(), {}).ok());
  const std::string path = (dir_ / "prompt.json").string();
  std::ifstream in(path);
  nlohmann::json meta = nlohmann::json::parse(in);
  meta["backbone"] = {{"name", "bert-base-uncased"}, {"checksum", "fnv1a64:0"}};
  std::ofstream(path) << meta.dump();
  auto loaded = PromptModel::Load(*backbone_, dir_.string());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(loaded.status().message().find("bert-base-uncased"), std::string::npos);
  EXPECT_EQ(PromptModel::Load(*backbone_, "/nonexistent").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ptune::prompts

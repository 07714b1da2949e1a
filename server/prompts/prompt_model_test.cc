#include "server/prompts/prompt_model.h"

#include <algorithm>
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

// Initialization draws from the model's own generator only: the same seed
// gives the same parameters whatever LibTorch's global generator holds, and
// another seed other ones (a prompt never reseeds the global generators,
// which CUDA kernels and other tenants' jobs share).
TEST_F(PromptModelTest, InitializationUsesItsOwnGeneratorOnly) {
  std::vector<PromptSpec> specs(3);
  specs[0].kind = PromptKind::kShallow;
  specs[0].init = PromptInit::kVocab;
  specs[0].length = 6;
  specs[1].length = 4;  // deep, random
  specs[2].length = 4;
  specs[2].reparam = Reparam::kMlp;
  for (const PromptSpec& spec : specs) {
    const auto make = [&](uint64_t global_seed, uint64_t seed) {
      torch::manual_seed(global_seed);
      auto model = PromptModel::Create(*backbone_, datasets::Task::kClassify,
                                       {"neg", "pos"}, spec, seed);
      EXPECT_TRUE(model.ok()) << model.status();
      return std::move(*model);
    };
    auto a = make(1, 7), b = make(999, 7), c = make(1, 8);
    auto pa = a->NamedParameters(), pb = b->NamedParameters(), pc = c->NamedParameters();
    ASSERT_EQ(pa.size(), pb.size());
    bool any_differs = false;
    for (size_t i = 0; i < pa.size(); ++i) {
      EXPECT_TRUE(torch::equal(pa[i].second, pb[i].second)) << pa[i].first;
      if (!torch::equal(pa[i].second, pc[i].second)) any_differs = true;
    }
    EXPECT_TRUE(any_differs) << "seeds 7 and 8 gave the same prompt";
    // The global stream after a prompt was created does not depend on the
    // prompt's seed: nothing reseeded it (manual_seed(seed) would).
    make(123, 7);
    const at::Tensor after_7 = torch::randn({4});
    make(123, 8);
    const at::Tensor after_8 = torch::randn({4});
    EXPECT_TRUE(torch::equal(after_7, after_8));
  }
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

TEST_F(PromptModelTest, CaseEmbeddingsStartNeutralThenSeeCapitalization) {
  PromptSpec plain_spec;
  plain_spec.length = 3;
  PromptSpec cased_spec = plain_spec;
  cased_spec.case_embeddings = true;
  auto plain = Make(plain_spec, datasets::Task::kTag);
  auto cased = Make(cased_spec, datasets::Task::kTag);
  torch::NoGradGuard no_grad;
  const auto tag = [&](const PromptModel& model, const std::string& text) {
    auto batch = backbone_->Tokenize({text});
    EXPECT_TRUE(batch.ok());
    auto logits = model.Logits(*backbone_, *batch, false);
    EXPECT_TRUE(logits.ok()) << logits.status();
    return *logits;
  };
  // Zero tables (a new prompt) change nothing, so the uncased backbone
  // cannot tell "Apple" from "apple" yet.
  ASSERT_EQ(cased->CaseEmbeddings().sizes(), (std::vector<int64_t>{5, 384}));
  EXPECT_TRUE(tag(*cased, "Apple sells pies").equal(tag(*plain, "Apple sells pies")));
  EXPECT_TRUE(tag(*cased, "Apple sells pies").equal(tag(*cased, "apple sells pies")));
  // With a Title vector, it can; lowercase text is unaffected.
  cased->CaseEmbeddings()[2].normal_(0, 0.05);  // text::WordCase::kTitle
  EXPECT_FALSE(tag(*cased, "Apple sells pies").equal(tag(*cased, "apple sells pies")));
  EXPECT_TRUE(tag(*cased, "apple sells pies").equal(tag(*plain, "apple sells pies")));
  // The table is saved and loaded with the prompt.
  const at::Tensor before = tag(*cased, "Apple sells pies");
  ASSERT_TRUE(cased->Save(dir_.string(), {}).ok());
  auto loaded = PromptModel::Load(*backbone_, dir_.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE((*loaded)->spec().case_embeddings);
  EXPECT_TRUE((*loaded)->CaseEmbeddings().equal(cased->CaseEmbeddings()));
  EXPECT_TRUE(tag(**loaded, "Apple sells pies").equal(before));
  // Prompt transfer copies the table along with the prompt.
  PromptSpec transfer = cased_spec;
  transfer.init = PromptInit::kPrompt;
  transfer.init_prompt = dir_.string();
  auto copy = Make(transfer, datasets::Task::kTag);
  EXPECT_TRUE(copy->CaseEmbeddings().equal(cased->CaseEmbeddings()));
  // Trained at a 20th of the prompt's learning rate, in a group of its own.
  const auto groups = cased->ParameterGroups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[1].parameters.size(), 1u);
  EXPECT_TRUE(groups[1].parameters[0].is_same(cased->CaseEmbeddings()));
  EXPECT_DOUBLE_EQ(groups[1].learning_rate_scale, 0.05);
  EXPECT_EQ(groups[0].parameters.size() + 1, cased->Parameters().size());
}

// Learning-rate groups: an MLP reparameterization at its own scale, the
// case table at a 20th; every parameter in exactly one group.
TEST_F(PromptModelTest, ParameterGroupsGiveTheMlpItsOwnRate) {
  PromptSpec spec;
  spec.length = 4;
  spec.reparam = Reparam::kMlp;
  spec.mlp_hidden = 16;
  spec.case_embeddings = true;
  auto model = Make(spec);
  const auto groups = model->ParameterGroups(0.25);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].learning_rate_scale, 0.25);
  EXPECT_EQ(groups[0].parameters.size(), 5u);  // Z, two layers' weights and biases
  EXPECT_EQ(groups[1].learning_rate_scale, 1.0);
  EXPECT_EQ(groups[1].parameters.size(), 2u);  // the head
  EXPECT_EQ(groups[2].learning_rate_scale, 0.05);
  std::vector<at::Tensor> in_order;
  for (const auto& group : groups) {
    in_order.insert(in_order.end(), group.parameters.begin(), group.parameters.end());
  }
  const std::vector<at::Tensor> parameters = model->Parameters();
  ASSERT_EQ(in_order.size(), parameters.size());
  for (const at::Tensor& p : parameters) {
    EXPECT_EQ(std::count_if(in_order.begin(), in_order.end(),
                            [&](const at::Tensor& q) { return q.is_same(p); }),
              1);
  }
  EXPECT_EQ(model->HeadParameterGroups().size(), 2u);  // head, case table
  spec.reparam = Reparam::kNone;
  auto direct = Make(spec);
  EXPECT_EQ(direct->ParameterGroups(0.25)[0].parameters.size(), 3u);  // prompt + head
  EXPECT_EQ(direct->ParameterGroups(0.25)[0].learning_rate_scale, 1.0);
}

// The max_tokens a prompt was trained with travels with its artifact;
// artifacts without one read texts with the default.
TEST_F(PromptModelTest, MaxTokensTravelsWithTheArtifact) {
  PromptSpec spec;
  spec.length = 2;
  auto model = Make(spec);
  EXPECT_EQ(model->max_tokens(), 0);
  EXPECT_EQ(model->ReadingMaxTokens(), kDefaultMaxTokens);
  ASSERT_TRUE(model->Save(dir_.string(), {}).ok());
  auto unrecorded = PromptModel::Load(*backbone_, dir_.string());
  ASSERT_TRUE(unrecorded.ok()) << unrecorded.status();
  EXPECT_EQ((*unrecorded)->max_tokens(), 0);
  model->set_max_tokens(320);
  ASSERT_TRUE(model->Save(dir_.string(), {}).ok());
  auto loaded = PromptModel::Load(*backbone_, dir_.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->max_tokens(), 320);
  EXPECT_EQ((*loaded)->ReadingMaxTokens(), 320);
  const std::string path = (dir_ / "prompt.json").string();
  std::ifstream in(path);
  nlohmann::json meta = nlohmann::json::parse(in);
  meta["max_tokens"] = 4096;
  std::ofstream(path) << meta.dump();
  auto bad = PromptModel::Load(*backbone_, dir_.string());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("max_tokens"), std::string::npos);
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

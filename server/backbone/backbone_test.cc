// Parity of the backbone with Hugging Face transformers / sentence-transformers
// (fixture from tests/tools/gen_backbone_fixtures.py) and the prompt hooks.
#include "server/backbone/backbone.h"

#include <fstream>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace ptune::backbone {
namespace {

using nlohmann::json;

constexpr double kHiddenTolerance = 1e-4;

// A row computed inside a batch differs from the row computed alone only by
// float32 rounding: the GEMMs block differently for other shapes and padded
// keys add exact zeros in another order. 1e-5 relative to the largest state.
double BatchTolerance(const at::Tensor& reference) {
  return 1e-5 * std::max(1.0, reference.abs().max().item<double>());
}

at::Tensor Decode(const std::string& b64, std::vector<int64_t> shape) {
  std::string bytes;
  EXPECT_TRUE(absl::Base64Unescape(b64, &bytes));
  at::Tensor t = torch::empty(shape, torch::kFloat);
  EXPECT_EQ(static_cast<size_t>(t.numel()) * sizeof(float), bytes.size());
  std::memcpy(t.data_ptr<float>(), bytes.data(), bytes.size());
  return t;
}

at::Tensor Ids(const json& row) {
  return torch::tensor(row["ids"].get<std::vector<int64_t>>(), torch::kLong)
      .unsqueeze(0);
}

class BackboneTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = ptune::testing::BackboneDir();
    if (dir.empty()) return;
    auto backbone = Backbone::Create({.dir = dir, .device = "cpu"});
    ASSERT_TRUE(backbone.ok()) << backbone.status();
    backbone_ = std::move(*backbone).release();
    std::ifstream in(ptune::testing::SourceDir() +
                     "/tests/fixtures/backbone/minilm_reference.jsonl");
    ASSERT_TRUE(in) << "missing tests/fixtures/backbone/minilm_reference.jsonl";
    for (std::string line; std::getline(in, line);) {
      rows_->push_back(json::parse(line));
    }
  }
  static void TearDownTestSuite() {
    delete backbone_;
    backbone_ = nullptr;
  }
  void SetUp() override {
    if (backbone_ == nullptr) {
      GTEST_SKIP() << "default backbone not installed: set PTUNE_BACKBONE_DIR "
                      "or run deploy/local/dev.sh test";
    }
  }

  static std::vector<json> Rows(const std::string& kind) {
    std::vector<json> out;
    for (const json& row : *rows_) {
      if (row["kind"] == kind) out.push_back(row);
    }
    return out;
  }

  // Runs one row alone, no prompts; returns [T, H].
  static at::Tensor Hidden(const json& row) {
    EncoderInput in;
    in.input_ids = Ids(row);
    in.attention_mask = torch::ones_like(in.input_ids);
    auto out = backbone_->Forward(in);
    EXPECT_TRUE(out.ok()) << out.status();
    return out->hidden[0];
  }

  static inline Backbone* backbone_ = nullptr;
  static inline std::vector<json>* rows_ = new std::vector<json>();
  const int64_t h_ = 384;
};

TEST_F(BackboneTest, FixtureCoversEnoughSentences) {
  EXPECT_GE(Rows("sentence").size(), 50u);
  EXPECT_EQ(backbone_->config().hidden_size, h_);
}

TEST_F(BackboneTest, HiddenStatesMatchTransformersOneByOne) {
  c10::InferenceMode guard;
  for (const json& row : Rows("sentence")) {
    const int64_t t = row["ids"].size();
    const at::Tensor expected = Decode(row["hidden"], {t, h_});
    const double diff = (Hidden(row) - expected).abs().max().item<double>();
    EXPECT_LE(diff, kHiddenTolerance) << row["text"];
  }
}

TEST_F(BackboneTest, TokenizerIdsMatchFixture) {
  for (const json& row : Rows("sentence")) {
    auto enc = backbone_->tokenizer().Encode(row["text"].get<std::string>());
    ASSERT_TRUE(enc.ok()) << enc.status();
    std::vector<int64_t> ids(enc->ids.begin(), enc->ids.end());
    EXPECT_EQ(ids, row["ids"].get<std::vector<int64_t>>()) << row["text"];
  }
}

TEST_F(BackboneTest, HiddenStatesMatchTransformersBatched) {
  c10::InferenceMode guard;
  const std::vector<json> rows = Rows("sentence");
  std::vector<std::string> texts;
  for (const json& row : rows) texts.push_back(row["text"]);
  auto batch = backbone_->Tokenize(texts);
  ASSERT_TRUE(batch.ok()) << batch.status();
  auto out = backbone_->Forward({.input_ids = batch->input_ids,
                                 .attention_mask = batch->attention_mask});
  ASSERT_TRUE(out.ok()) << out.status();
  const at::Tensor states = out->TextStates();
  for (size_t i = 0; i < rows.size(); ++i) {
    const int64_t t = rows[i]["ids"].size();
    const at::Tensor expected = Decode(rows[i]["hidden"], {t, h_});
    const double diff =
        (states[i].narrow(0, 0, t) - expected).abs().max().item<double>();
    EXPECT_LE(diff, kHiddenTolerance) << rows[i]["text"];
  }
}

TEST_F(BackboneTest, HostRowLengthsGiveTheSameStatesAsTheMask) {
  c10::InferenceMode guard;
  auto batch = backbone_->Tokenize({"a short one", "a somewhat longer sentence here"});
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->row_lengths, (std::vector<int64_t>{5, 7}));
  auto from_mask = backbone_->Forward({.input_ids = batch->input_ids,
                                       .attention_mask = batch->attention_mask});
  auto from_host = backbone_->Forward({.input_ids = batch->input_ids,
                                       .attention_mask = batch->attention_mask,
                                       .row_lengths = batch->row_lengths});
  ASSERT_TRUE(from_mask.ok() && from_host.ok());
  EXPECT_TRUE(at::equal(from_mask->hidden, from_host->hidden));
  EXPECT_TRUE(at::equal(from_mask->text_positions, from_host->text_positions));
}

TEST_F(BackboneTest, AddedEmbeddingsShiftTheWordEmbeddings) {
  c10::InferenceMode guard;
  auto cat = backbone_->Tokenize({"the cat sat"});
  auto dog = backbone_->Tokenize({"the dog sat"});
  ASSERT_TRUE(cat.ok() && dog.ok());
  ASSERT_EQ(cat->input_ids.sizes(), dog->input_ids.sizes());
  const at::Tensor& words = backbone_->word_embeddings();
  // Adding w[dog] - w[cat] at "cat" gives the states of "the dog sat".
  at::Tensor added = torch::zeros({1, cat->input_ids.size(1), h_});
  added[0][2] = words[dog->input_ids[0][2].item<int64_t>()] -
                words[cat->input_ids[0][2].item<int64_t>()];
  auto shifted = backbone_->Forward({.input_ids = cat->input_ids,
                                     .attention_mask = cat->attention_mask,
                                     .added_embeddings = added});
  auto expected = backbone_->Forward({.input_ids = dog->input_ids,
                                      .attention_mask = dog->attention_mask});
  ASSERT_TRUE(shifted.ok() && expected.ok()) << shifted.status();
  EXPECT_LE((shifted->hidden - expected->hidden).abs().max().item<double>(), 1e-4);
  // Zeros change nothing; a wrong shape is rejected.
  auto zeros = backbone_->Forward({.input_ids = cat->input_ids,
                                   .attention_mask = cat->attention_mask,
                                   .added_embeddings = torch::zeros_like(added)});
  auto plain = backbone_->Forward({.input_ids = cat->input_ids,
                                   .attention_mask = cat->attention_mask});
  ASSERT_TRUE(zeros.ok() && plain.ok());
  EXPECT_TRUE(at::equal(zeros->hidden, plain->hidden));
  EXPECT_EQ(backbone_->Forward({.input_ids = cat->input_ids,
                                .attention_mask = cat->attention_mask,
                                .added_embeddings = torch::zeros({1, 2, h_})})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(BackboneTest, SentenceEmbeddingsMatchSentenceTransformers) {
  const std::vector<json> rows = Rows("sentence");
  std::vector<std::string> texts;
  for (const json& row : rows) texts.push_back(row["text"]);
  auto batched = backbone_->Embed(texts, EmbedPooling::kSentence);
  ASSERT_TRUE(batched.ok()) << batched.status();
  for (size_t i = 0; i < rows.size(); ++i) {
    const at::Tensor expected = Decode(rows[i]["sentence"], {h_});
    auto single = backbone_->Embed({texts[i]}, EmbedPooling::kSentence);
    ASSERT_TRUE(single.ok()) << single.status();
    for (const at::Tensor& got : {(*batched)[i], (*single)[0]}) {
      const double cosine =
          torch::cosine_similarity(got, expected, 0).item<double>();
      EXPECT_GE(cosine, 0.99999) << texts[i];
      EXPECT_LE((got - expected).abs().max().item<double>(), 1e-5) << texts[i];
    }
  }
}

TEST_F(BackboneTest, ShallowPrefixMatchesInputsEmbeds) {
  c10::InferenceMode guard;
  for (const json& row : Rows("shallow")) {
    const at::Tensor ids = Ids(row);
    const int64_t t = ids.size(1);
    std::string raw;
    ASSERT_TRUE(absl::Base64Unescape(row["prompt"].get<std::string>(), &raw));
    const int64_t len = raw.size() / sizeof(float) / h_;
    EncoderInput in;
    in.input_ids = ids;
    in.attention_mask = torch::ones_like(ids);
    in.shallow.embeddings = Decode(row["prompt"], {len, h_}).unsqueeze(0);
    in.shallow.segments = {{{.before_token = 0, .source_begin = 0,
                             .length = static_cast<int32_t>(len)}}};
    auto out = backbone_->Forward(in);
    ASSERT_TRUE(out.ok()) << out.status();
    const at::Tensor expected = Decode(row["hidden"], {len + t, h_});
    EXPECT_LE((out->hidden[0] - expected).abs().max().item<double>(),
              kHiddenTolerance)
        << row["text"];
    // The text tokens sit after the prompt.
    EXPECT_EQ(out->text_positions[0][0].item<int64_t>(), len);
  }
}

TEST_F(BackboneTest, DeepPrefixMatchesPastKeyValues) {
  c10::InferenceMode guard;
  const int64_t layers = backbone_->config().num_hidden_layers;
  for (const json& row : Rows("deep")) {
    const at::Tensor ids = Ids(row);
    const int64_t t = ids.size(1);
    std::string raw;
    ASSERT_TRUE(absl::Base64Unescape(row["prefix"].get<std::string>(), &raw));
    const int64_t m = raw.size() / sizeof(float) / (layers * 2 * h_);
    EncoderInput in;
    in.input_ids = ids;
    in.attention_mask = torch::ones_like(ids);
    in.deep.key_values =
        Decode(row["prefix"], {layers, 2, m, h_}).unsqueeze(2);
    in.deep.lengths = {static_cast<int32_t>(m)};
    auto out = backbone_->Forward(in);
    ASSERT_TRUE(out.ok()) << out.status();
    const at::Tensor expected = Decode(row["hidden"], {t, h_});
    EXPECT_LE((out->hidden[0] - expected).abs().max().item<double>(),
              kHiddenTolerance)
        << row["text"];
  }
}

TEST_F(BackboneTest, ZeroLengthPromptsEqualNoPrompt) {
  c10::InferenceMode guard;
  const json row = Rows("sentence")[5];
  const at::Tensor plain = Hidden(row);
  EncoderInput in;
  in.input_ids = Ids(row);
  in.attention_mask = torch::ones_like(in.input_ids);
  in.shallow.embeddings = torch::randn({1, 4, h_});
  in.shallow.segments = {{{.before_token = 0, .source_begin = 0, .length = 0}}};
  in.deep.key_values =
      torch::randn({backbone_->config().num_hidden_layers, 2, 1, 3, h_});
  in.deep.lengths = {0};
  auto out = backbone_->Forward(in);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_LE((out->TextStates()[0] - plain).abs().max().item<double>(), 1e-5);
}

// Rows with different prompts (prefix, infix, both, deep of other lengths,
// none) in one batch give what each row gives alone.
TEST_F(BackboneTest, PromptRowEqualsRowComputedAlone) {
  c10::InferenceMode guard;
  torch::manual_seed(7);
  const std::vector<json> sentences = Rows("sentence");
  const std::vector<std::string> texts = {
      sentences[3]["text"], sentences[8]["text"], sentences[20]["text"],
      sentences[1]["text"]};
  const int64_t layers = backbone_->config().num_hidden_layers;
  const at::Tensor prompts = torch::randn({4, 6, h_});
  const at::Tensor deep = torch::randn({layers, 2, 4, 5, h_});
  const std::vector<std::vector<PromptSegment>> segments = {
      {{0, 0, 6}},             // prefix of 6
      {{1, 0, 2}},             // infix of 2 after [CLS]
      {{0, 0, 3}, {1, 3, 3}},  // prefix 3 + infix 3
      {}};                     // none
  const std::vector<int32_t> deep_lengths = {5, 0, 2, 3};

  auto batch = backbone_->Tokenize(texts);
  ASSERT_TRUE(batch.ok());
  EncoderInput in{.input_ids = batch->input_ids,
                  .attention_mask = batch->attention_mask};
  in.shallow = {prompts, segments};
  in.deep = {deep, deep_lengths};
  auto together = backbone_->Forward(in);
  ASSERT_TRUE(together.ok()) << together.status();

  for (size_t i = 0; i < texts.size(); ++i) {
    auto one = backbone_->Tokenize({texts[i]});
    ASSERT_TRUE(one.ok());
    EncoderInput single{.input_ids = one->input_ids,
                        .attention_mask = one->attention_mask};
    single.shallow = {prompts.narrow(0, i, 1), {segments[i]}};
    single.deep = {deep.narrow(2, i, 1), {deep_lengths[i]}};
    auto alone = backbone_->Forward(single);
    ASSERT_TRUE(alone.ok()) << alone.status();
    const int64_t t = one->input_ids.size(1);
    const at::Tensor a = together->TextStates()[i].narrow(0, 0, t);
    const at::Tensor b = alone->TextStates()[0];
    EXPECT_LE((a - b).abs().max().item<double>(), BatchTolerance(b)) << texts[i];
    // The full combined sequence (prompt positions too) agrees.
    const int64_t s = alone->hidden.size(1);
    EXPECT_LE((together->hidden[i].narrow(0, 0, s) - alone->hidden[0])
                  .abs().max().item<double>(),
              BatchTolerance(alone->hidden[0]));
  }
}

TEST_F(BackboneTest, InfixPromptSitsAfterCls) {
  c10::InferenceMode guard;
  auto batch = backbone_->Tokenize({"a fine film"});
  ASSERT_TRUE(batch.ok());
  EncoderInput in{.input_ids = batch->input_ids,
                  .attention_mask = batch->attention_mask};
  in.shallow = {torch::randn({1, 4, h_}), {{{1, 0, 4}}}};
  auto out = backbone_->Forward(in);
  ASSERT_TRUE(out.ok());
  const auto pos = out->text_positions[0];
  EXPECT_EQ(pos[0].item<int64_t>(), 0);  // [CLS]
  EXPECT_EQ(pos[1].item<int64_t>(), 5);  // first word after 4 soft tokens
  EXPECT_EQ(out->hidden.size(1), batch->input_ids.size(1) + 4);
}

TEST_F(BackboneTest, BackboneIsFrozenButPassesGradientsToPrompts) {
  auto batch = backbone_->Tokenize({"gradients reach the prompt only"});
  ASSERT_TRUE(batch.ok());
  const at::Tensor prompt = torch::randn({1, 3, h_}, torch::requires_grad());
  const at::Tensor deep = torch::randn(
      {backbone_->config().num_hidden_layers, 2, 1, 2, h_},
      torch::requires_grad());
  EncoderInput in{.input_ids = batch->input_ids,
                  .attention_mask = batch->attention_mask};
  in.shallow = {prompt, {{{0, 0, 3}}}};
  in.deep = {deep, {2}};
  auto out = backbone_->Forward(in);
  ASSERT_TRUE(out.ok()) << out.status();
  out->TextStates().sum().backward();
  ASSERT_TRUE(prompt.grad().defined());
  EXPECT_GT(prompt.grad().abs().sum().item<double>(), 0);
  ASSERT_TRUE(deep.grad().defined());
  EXPECT_GT(deep.grad().abs().sum().item<double>(), 0);
  // No backbone weight gradient is computed: every parameter is frozen and
  // none has a .grad after the backward.
  const std::vector<at::Tensor> params = backbone_->Parameters();
  EXPECT_EQ(params.size(), 5u + 12u * backbone_->config().num_hidden_layers);
  for (const at::Tensor& p : params) {
    EXPECT_FALSE(p.requires_grad());
    EXPECT_FALSE(p.grad().defined());
  }
}

TEST_F(BackboneTest, RejectsMalformedPromptInputs) {
  auto batch = backbone_->Tokenize({"x"});
  ASSERT_TRUE(batch.ok());
  EncoderInput in{.input_ids = batch->input_ids,
                  .attention_mask = batch->attention_mask};
  in.shallow = {torch::randn({1, 2, h_}), {{{0, 1, 2}}}};  // past the end
  EXPECT_EQ(backbone_->Forward(in).status().code(),
            absl::StatusCode::kInvalidArgument);
  in.shallow = {torch::randn({1, 2, 7}), {{{0, 0, 2}}}};  // wrong width
  EXPECT_EQ(backbone_->Forward(in).status().code(),
            absl::StatusCode::kInvalidArgument);
  in.shallow = {};
  in.deep = {torch::randn({1, 2, 1, 2, h_}), {2}};  // wrong layer count
  EXPECT_EQ(backbone_->Forward(in).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BackboneCreateTest, MissingFolderIsNotFound) {
  auto backbone = Backbone::Create({.dir = "/nonexistent/ptune-backbone"});
  EXPECT_EQ(backbone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(backbone.status().message().find("/nonexistent/ptune-backbone"),
            std::string::npos);
}

TEST(BackboneCreateTest, Float16OnCpuIsRejectedBFloat16Runs) {
  const std::string dir = ptune::testing::BackboneDir();
  if (dir.empty()) GTEST_SKIP() << "default backbone not installed";
  auto fp16 = Backbone::Create({.dir = dir, .device = "cpu", .dtype = "float16"});
  EXPECT_EQ(fp16.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(fp16.status().message().find("use bfloat16 or float32 on CPU"), std::string::npos)
      << fp16.status();
  auto bf16 = Backbone::Create({.dir = dir, .device = "cpu", .dtype = "bfloat16"});
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  EXPECT_EQ((*bf16)->dtype(), at::kBFloat16);
  // Its sentence embeddings stay close to float32's.
  auto fp32 = Backbone::Create({.dir = dir, .device = "cpu"});
  ASSERT_TRUE(fp32.ok());
  const std::vector<std::string> texts = {"a bfloat16 forward", "Berlin is in Germany ."};
  auto a = (*fp32)->Embed(texts, EmbedPooling::kSentence);
  auto b = (*bf16)->Embed(texts, EmbedPooling::kSentence);
  ASSERT_TRUE(a.ok() && b.ok());
  const at::Tensor cosine = at::cosine_similarity(*a, b->to(at::kFloat), 1);
  EXPECT_GT(cosine.min().item<float>(), 0.99f);
}

}  // namespace
}  // namespace ptune::backbone

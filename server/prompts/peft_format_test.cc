#include "server/prompts/peft_format.h"

#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "gtest/gtest.h"
#include "server/backbone/tensor_io.h"
#include "server/safetensors/safetensors.h"
#include "tests/testing/shared_backbone.h"

namespace ptune::prompts {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in, nullptr, /*allow_exceptions=*/false);
}

void WriteJson(const fs::path& path, const json& j) {
  std::ofstream(path) << j.dump(2);
}

// ptune's logits as nested lists, with the attention mask (tag) so that a
// reader can skip padding.
json LogitsJson(const at::Tensor& logits, const backbone::TokenBatch& batch) {
  const at::Tensor l = logits.to(at::kCPU, at::kDouble).contiguous();
  json rows = json::array();
  for (int64_t b = 0; b < l.size(0); ++b) {
    if (l.dim() == 2) {
      rows.push_back(std::vector<double>(l[b].data_ptr<double>(),
                                         l[b].data_ptr<double>() + l.size(1)));
      continue;
    }
    json tokens = json::array();
    for (int64_t t = 0; t < l.size(1); ++t) {
      tokens.push_back(std::vector<double>(
          l[b][t].data_ptr<double>(), l[b][t].data_ptr<double>() + l.size(2)));
    }
    rows.push_back(tokens);
  }
  const at::Tensor mask =
      batch.attention_mask.to(at::kCPU, at::kLong).contiguous();
  json masks = json::array();
  for (int64_t b = 0; b < mask.size(0); ++b) {
    masks.push_back(
        std::vector<int64_t>(mask[b].data_ptr<int64_t>(),
                             mask[b].data_ptr<int64_t>() + mask.size(1)));
  }
  return {{"logits", rows}, {"attention_mask", masks}};
}

class PeftFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backbone_ = ptune::testing::SharedBackbone();
    if (backbone_ == nullptr) GTEST_SKIP() << "default backbone not installed";
    dir_ = fs::temp_directory_path() /
           ("ptune_peft_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A model with a head large enough that logit differences show.
  std::unique_ptr<PromptModel> Make(PromptKind kind, datasets::Task task,
                                    HeadPooling pooling = HeadPooling::kCls,
                                    int length = 4) {
    PromptSpec spec;
    spec.kind = kind;
    spec.length = length;
    spec.pooling = pooling;
    if (kind == PromptKind::kShallow) spec.init = PromptInit::kVocab;
    std::vector<std::string> labels = {"O", "B-X", "I-X"};
    if (task == datasets::Task::kClassify) labels = {"neg", "pos"};
    auto model = PromptModel::Create(*backbone_, task, labels, spec, 7);
    EXPECT_TRUE(model.ok()) << model.status();
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : (*model)->NamedParameters()) {
      if (name.rfind("head.", 0) == 0) tensor.normal_(0, 0.5);
    }
    return std::move(*model);
  }
  backbone::TokenBatch Batch(const std::vector<std::string>& texts = {
                                 "a fine film", "dull and far too long"}) {
    auto batch = backbone_->Tokenize(texts);
    EXPECT_TRUE(batch.ok()) << batch.status();
    return *batch;
  }
  at::Tensor Logits(const PromptModel& model,
                    const backbone::TokenBatch& batch) {
    torch::NoGradGuard no_grad;
    auto logits = model.Logits(*backbone_, batch, /*training=*/false);
    EXPECT_TRUE(logits.ok()) << logits.status();
    return *logits;
  }
  static at::Tensor Param(const PromptModel& model, const std::string& name) {
    for (const auto& [key, tensor] : model.NamedParameters()) {
      if (key == name) return tensor;
    }
    return {};
  }
  // Exports `model` to dir_ and edits adapter_config.json with `edit`.
  void ExportAndEditConfig(const PromptModel& model,
                           const std::function<void(json&)>& edit) {
    ASSERT_TRUE(ExportPeftAdapter(model, *backbone_, dir_.string()).ok());
    json config = ReadJson(dir_ / "adapter_config.json");
    edit(config);
    WriteJson(dir_ / "adapter_config.json", config);
  }
  absl::Status Import(std::vector<std::string> labels = {},
                      const PeftImportOptions& options = {}) {
    return ImportPeftAdapter(*backbone_, dir_.string(), std::move(labels),
                             options)
        .status();
  }

  const backbone::Backbone* backbone_ = nullptr;
  fs::path dir_;
};

TEST_F(PeftFormatTest, RoundTripKeepsTensorsAndLogits) {
  const auto batch = Batch();
  struct Case {
    PromptKind kind;
    datasets::Task task;
    HeadPooling pooling;
  };
  for (const Case& c :
       {Case{PromptKind::kDeep, datasets::Task::kTag, HeadPooling::kCls},
        Case{PromptKind::kShallow, datasets::Task::kTag, HeadPooling::kCls},
        Case{PromptKind::kDeep, datasets::Task::kClassify, HeadPooling::kCls},
        Case{PromptKind::kShallow, datasets::Task::kClassify,
             HeadPooling::kMean}}) {
    SCOPED_TRACE(::testing::Message()
                 << "deep=" << (c.kind == PromptKind::kDeep)
                 << " tag=" << (c.task == datasets::Task::kTag));
    auto model = Make(c.kind, c.task, c.pooling);
    fs::remove_all(dir_);
    ASSERT_TRUE(ExportPeftAdapter(*model, *backbone_, dir_.string()).ok());
    EXPECT_TRUE(fs::exists(dir_ / "adapter_config.json"));
    EXPECT_TRUE(fs::exists(dir_ / "adapter_model.safetensors"));
    auto imported = ImportPeftAdapter(*backbone_, dir_.string(), {});
    ASSERT_TRUE(imported.ok()) << imported.status();
    const PromptModel& back = **imported;
    EXPECT_EQ(back.task(), c.task);
    EXPECT_EQ(back.labels(), model->labels());
    EXPECT_EQ(back.spec().kind, c.kind);
    EXPECT_EQ(back.spec().length, model->spec().length);
    EXPECT_EQ(back.spec().pooling, c.pooling);
    EXPECT_TRUE(back.PromptTensor().equal(model->PromptTensor()));
    EXPECT_TRUE(Param(back, "head.weight").equal(Param(*model, "head.weight")));
    EXPECT_TRUE(Param(back, "head.bias").equal(Param(*model, "head.bias")));
    EXPECT_TRUE(Logits(back, batch).equal(Logits(*model, batch)));
  }
}

TEST_F(PeftFormatTest, WritesPeftKeysConfigAndPrefixLayout) {
  auto model =
      Make(PromptKind::kDeep, datasets::Task::kTag, HeadPooling::kCls, 3);
  ASSERT_TRUE(
      ExportPeftAdapter(*model, *backbone_, dir_.string(),
                        {.base_model_name_or_path = "sentence-transformers/x"})
          .ok());
  const json config = ReadJson(dir_ / "adapter_config.json");
  const auto& c = backbone_->config();
  EXPECT_EQ(config["peft_type"], "PREFIX_TUNING");
  EXPECT_EQ(config["task_type"], "TOKEN_CLS");
  EXPECT_EQ(config["num_virtual_tokens"], 3);
  EXPECT_EQ(config["token_dim"], c.hidden_size);
  EXPECT_EQ(config["num_layers"], c.num_hidden_layers);
  EXPECT_EQ(config["num_attention_heads"], c.num_attention_heads);
  EXPECT_EQ(config["num_transformer_submodules"], 1);
  EXPECT_EQ(config["prefix_projection"], false);
  EXPECT_EQ(config["inference_mode"], true);
  EXPECT_EQ(config["base_model_name_or_path"], "sentence-transformers/x");
  // PromptLearningConfig has no such field: PEFT would refuse the config.
  EXPECT_FALSE(config.contains("modules_to_save"));

  auto file = safetensors::SafetensorsFile::Open(
      (dir_ / "adapter_model.safetensors").string());
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->names(),
            (std::vector<std::string>{"base_model.classifier.bias",
                                      "base_model.classifier.weight",
                                      "prompt_embeddings"}));
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  auto rows = backbone::ReadTensor(**file, "prompt_embeddings");
  ASSERT_TRUE(rows.ok()) << rows.status();
  const int64_t h = c.hidden_size;
  ASSERT_EQ(rows->sizes().vec(),
            (std::vector<int64_t>{3, c.num_hidden_layers * 2 * h}));
  // Row j = [layer0 key | layer0 value | layer1 key | ...] of token j.
  const at::Tensor p = model->PromptTensor();
  for (int64_t j = 0; j < 3; ++j) {
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      for (int64_t kv = 0; kv < 2; ++kv) {
        EXPECT_TRUE((*rows)[j]
                        .slice(0, (2 * l + kv) * h, (2 * l + kv + 1) * h)
                        .equal(p[l][kv][j]));
      }
    }
  }
}

TEST_F(PeftFormatTest, ForeignAdapterNeedsLabelsAndImportsAsTagger) {
  auto model = Make(PromptKind::kShallow, datasets::Task::kTag);
  ASSERT_TRUE(ExportPeftAdapter(*model, *backbone_, dir_.string()).ok());
  fs::remove(dir_ / "ptune_export.json");  // as PEFT writes it
  const absl::Status no_labels = Import();
  EXPECT_EQ(no_labels.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(no_labels.message().find("no label names; pass the 3 labels"),
            std::string::npos)
      << no_labels;
  const absl::Status two = Import({"a", "b"});
  EXPECT_EQ(two.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(two.message().find("2 labels for a head with 3 outputs"),
            std::string::npos)
      << two;
  auto imported = ImportPeftAdapter(*backbone_, dir_.string(), {"o", "b", "i"});
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ((*imported)->task(), datasets::Task::kTag);
  EXPECT_EQ((*imported)->labels(), (std::vector<std::string>{"o", "b", "i"}));
  const auto batch = Batch();
  EXPECT_TRUE(Logits(**imported, batch).equal(Logits(*model, batch)));
}

TEST_F(PeftFormatTest, AcceptsCollapsedPrefixProjectionAndPTuning) {
  // PEFT saves a prefix-projection or P-tuning prompt after its encoder
  // ([m, L*2*H] / [m, H]) and serves exactly those rows in inference mode.
  auto deep = Make(PromptKind::kDeep, datasets::Task::kTag);
  ExportAndEditConfig(*deep, [](json& config) {
    config["prefix_projection"] = true;
    config["encoder_hidden_size"] = 16;
  });
  auto imported = ImportPeftAdapter(*backbone_, dir_.string(), {});
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_TRUE((*imported)->PromptTensor().equal(deep->PromptTensor()));

  fs::remove_all(dir_);
  auto shallow = Make(PromptKind::kShallow, datasets::Task::kTag);
  ExportAndEditConfig(*shallow, [](json& config) {
    config["peft_type"] = "P_TUNING";
    config["encoder_reparameterization_type"] = "MLP";
  });
  imported = ImportPeftAdapter(*backbone_, dir_.string(), {});
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_TRUE((*imported)->PromptTensor().equal(shallow->PromptTensor()));
}

TEST_F(PeftFormatTest, RefusesInfixPlacements) {
  for (Placement placement : {Placement::kInfix, Placement::kPrefixInfix}) {
    PromptSpec spec;
    spec.kind = PromptKind::kShallow;
    spec.placement = placement;
    spec.length = 4;
    spec.init = PromptInit::kVocab;
    auto model = PromptModel::Create(*backbone_, datasets::Task::kTag,
                                     {"O", "B-X"}, spec, 1);
    ASSERT_TRUE(model.ok()) << model.status();
    const absl::Status status =
        ExportPeftAdapter(**model, *backbone_, dir_.string());
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(status.message().find("infix"), std::string::npos) << status;
    EXPECT_NE(status.message().find("only placement prefix"),
              std::string::npos);
    EXPECT_FALSE(fs::exists(dir_ / "adapter_config.json"));
  }
}

TEST_F(PeftFormatTest, RefusesCaseEmbeddings) {
  PromptSpec spec;
  spec.length = 4;
  spec.case_embeddings = true;
  auto model = PromptModel::Create(*backbone_, datasets::Task::kTag, {"O", "B-X"},
                                   spec, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  const absl::Status status = ExportPeftAdapter(**model, *backbone_, dir_.string());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("case embeddings"), std::string::npos) << status;
  EXPECT_FALSE(fs::exists(dir_ / "adapter_config.json"));
}

TEST_F(PeftFormatTest, RefusesMissingAndBrokenFiles) {
  EXPECT_EQ(Import({"a"}).code(), absl::StatusCode::kNotFound);

  auto model = Make(PromptKind::kDeep, datasets::Task::kTag);
  ASSERT_TRUE(ExportPeftAdapter(*model, *backbone_, dir_.string()).ok());
  fs::rename(dir_ / "adapter_model.safetensors", dir_ / "moved");
  EXPECT_EQ(Import().code(), absl::StatusCode::kNotFound);
  fs::rename(dir_ / "moved", dir_ / "adapter_model.safetensors");

  std::ofstream(dir_ / "adapter_config.json") << "{\"peft_type\": ";
  absl::Status status = Import();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("invalid JSON"), std::string::npos) << status;

  fs::remove_all(dir_);
  ASSERT_TRUE(ExportPeftAdapter(*model, *backbone_, dir_.string()).ok());
  std::ofstream(dir_ / "ptune_export.json") << "[1, 2";
  status = Import();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("ptune_export.json: invalid JSON"),
            std::string::npos)
      << status;

  fs::remove_all(dir_);
  ASSERT_TRUE(ExportPeftAdapter(*model, *backbone_, dir_.string()).ok());
  safetensors::SafetensorsWriter writer;  // prompt only, no classifier
  auto file = safetensors::SafetensorsFile::Open(
      (dir_ / "adapter_model.safetensors").string());
  ASSERT_TRUE(file.ok());
  auto rows = backbone::ReadTensor(**file, "prompt_embeddings");
  ASSERT_TRUE(rows.ok());
  ASSERT_TRUE(backbone::AddTensor(writer, "prompt_embeddings", *rows).ok());
  file->reset();
  ASSERT_TRUE(
      writer.WriteFile((dir_ / "adapter_model.safetensors").string()).ok());
  status = Import();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("no classifier head"), std::string::npos)
      << status;
}

TEST_F(PeftFormatTest, RefusesUnsupportedOrMismatchedConfigs) {
  auto model = Make(PromptKind::kDeep, datasets::Task::kTag);
  struct Case {
    std::function<void(json&)> edit;
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](json& c) { c["peft_type"] = "LORA"; },
       absl::StatusCode::kInvalidArgument, "unsupported peft_type \"LORA\""},
      {[](json& c) { c["peft_type"] = "MULTITASK_PROMPT_TUNING"; },
       absl::StatusCode::kInvalidArgument, "unsupported peft_type"},
      {[](json& c) { c["peft_type"] = 3; }, absl::StatusCode::kInvalidArgument,
       "unsupported peft_type \"\""},
      {[](json& c) { c["task_type"] = "CAUSAL_LM"; },
       absl::StatusCode::kInvalidArgument,
       "unsupported task_type \"CAUSAL_LM\""},
      {[](json& c) { c["task_type"] = "SEQ_CLS"; },
       absl::StatusCode::kFailedPrecondition, "BERT's pooler"},
      {[](json& c) { c["token_dim"] = 768; },
       absl::StatusCode::kFailedPrecondition, "token_dim 768"},
      {[](json& c) { c["num_layers"] = 12; },
       absl::StatusCode::kFailedPrecondition, "12 layers"},
      {[](json& c) { c["num_transformer_submodules"] = 2; },
       absl::StatusCode::kInvalidArgument, "encoder-decoder"},
      {[](json& c) { c.erase("num_virtual_tokens"); },
       absl::StatusCode::kInvalidArgument, "\"num_virtual_tokens\" is missing"},
      {[](json& c) { c["num_virtual_tokens"] = "4"; },
       absl::StatusCode::kInvalidArgument, "must be an integer"},
      {[](json& c) { c["num_virtual_tokens"] = 5; },
       absl::StatusCode::kInvalidArgument, "does not match"},  // sidecar spec
      {[](json& c) { c["peft_type"] = "PROMPT_TUNING"; },
       absl::StatusCode::kInvalidArgument, "does not match"},
  };
  for (const Case& c : cases) {
    fs::remove_all(dir_);
    ExportAndEditConfig(*model, c.edit);
    const absl::Status status = Import();
    EXPECT_EQ(status.code(), c.code) << status;
    EXPECT_NE(status.message().find(c.message), std::string::npos) << status;
  }
  // Without the sidecar, a wrong tensor shape is caught on the tensor.
  fs::remove_all(dir_);
  ExportAndEditConfig(*model, [](json& c) { c["num_virtual_tokens"] = 5; });
  fs::remove(dir_ / "ptune_export.json");
  const absl::Status status = Import({"o", "b", "i"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("\"prompt_embeddings\" has shape [4,4608], "
                                  "expected [5,4608]"),
            std::string::npos)
      << status;
}

TEST_F(PeftFormatTest, RefusesSidecarOfAnotherBackbone) {
  auto model = Make(PromptKind::kDeep, datasets::Task::kTag);
  ASSERT_TRUE(ExportPeftAdapter(*model, *backbone_, dir_.string()).ok());
  json sidecar = ReadJson(dir_ / "ptune_export.json");
  sidecar["backbone"] = {{"name", "bert-base-uncased"},
                         {"checksum", "fnv1a64:0"}};
  WriteJson(dir_ / "ptune_export.json", sidecar);
  const absl::Status status = Import();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("bert-base-uncased"), std::string::npos)
      << status;
}

TEST_F(PeftFormatTest, SeqClsPromptOnlyImportsPromptWithZeroHead) {
  auto model = Make(PromptKind::kShallow, datasets::Task::kClassify);
  ExportAndEditConfig(*model, [](json& c) { c["task_type"] = "SEQ_CLS"; });
  auto imported = ImportPeftAdapter(*backbone_, dir_.string(), {},
                                    {.seq_cls_prompt_only = true});
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ((*imported)->task(), datasets::Task::kClassify);
  EXPECT_EQ((*imported)->labels(), model->labels());
  EXPECT_TRUE((*imported)->PromptTensor().equal(model->PromptTensor()));
  EXPECT_EQ(Param(**imported, "head.weight").abs().sum().item<float>(), 0.0f);
}

TEST_F(PeftFormatTest, FromTensorsChecksShapes) {
  PromptSpec spec;
  spec.length = 2;
  const int64_t h = backbone_->config().hidden_size;
  const int64_t l = backbone_->config().num_hidden_layers;
  auto ok = PromptModel::FromTensors(
      *backbone_, datasets::Task::kTag, {"a", "b"}, spec,
      torch::zeros({l, 2, 2, h}), torch::ones({2, h}), torch::zeros({2}));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(Param(**ok, "head.weight").equal(torch::ones({2, h})));
  auto bad = PromptModel::FromTensors(*backbone_, datasets::Task::kTag,
                                      {"a", "b"}, spec, torch::zeros({2, h}),
                                      torch::ones({2, h}), torch::zeros({2}));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("prompt has shape [2, 384], expected "
                                        "[6, 2, 2, 384]"),
            std::string::npos)
      << bad.status();
  bad = PromptModel::FromTensors(
      *backbone_, datasets::Task::kTag, {"a", "b", "c"}, spec,
      torch::zeros({l, 2, 2, h}), torch::ones({2, h}), torch::zeros({2}));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

// Not a CI check: with PTUNE_PEFT_CROSSCHECK_DIR set (by
// tests/tools/check_peft_roundtrip.py), exports prompts and ptune's logits
// for <dir>/sentences.json to <dir>/to_peft/<name>/, and imports every
// adapter under <dir>/from_peft/ writing ptune's logits next to it.
TEST_F(PeftFormatTest, CrossCheckArtifacts) {
  const char* root_env = std::getenv("PTUNE_PEFT_CROSSCHECK_DIR");
  if (root_env == nullptr) GTEST_SKIP() << "PTUNE_PEFT_CROSSCHECK_DIR not set";
  const fs::path root = root_env;
  const json sentences = ReadJson(root / "sentences.json");
  ASSERT_TRUE(sentences.is_array()) << "need " << root / "sentences.json";
  const auto batch = Batch(sentences.get<std::vector<std::string>>());
  struct Export {
    std::string name;
    PromptKind kind;
    datasets::Task task;
    HeadPooling pooling;
  };
  for (const Export& e :
       {Export{"deep_tag", PromptKind::kDeep, datasets::Task::kTag,
               HeadPooling::kCls},
        Export{"shallow_tag", PromptKind::kShallow, datasets::Task::kTag,
               HeadPooling::kCls},
        Export{"deep_classify_cls", PromptKind::kDeep,
               datasets::Task::kClassify, HeadPooling::kCls},
        Export{"shallow_classify_mean", PromptKind::kShallow,
               datasets::Task::kClassify, HeadPooling::kMean}}) {
    auto model = Make(e.kind, e.task, e.pooling, 5);
    const fs::path dir = root / "to_peft" / e.name;
    fs::remove_all(dir);
    ASSERT_TRUE(ExportPeftAdapter(*model, *backbone_, dir.string()).ok());
    WriteJson(dir / "ptune_logits.json",
              LogitsJson(Logits(*model, batch), batch));
  }
  if (!fs::is_directory(root / "from_peft")) return;
  for (const auto& entry : fs::directory_iterator(root / "from_peft")) {
    const json peft = ReadJson(entry.path() / "peft_logits.json");
    ASSERT_TRUE(peft.is_object()) << entry.path();
    auto model =
        ImportPeftAdapter(*backbone_, entry.path().string(),
                          peft["labels"].get<std::vector<std::string>>());
    ASSERT_TRUE(model.ok()) << entry.path() << ": " << model.status();
    WriteJson(entry.path() / "ptune_logits.json",
              LogitsJson(Logits(**model, batch), batch));
  }
}

}  // namespace
}  // namespace ptune::prompts

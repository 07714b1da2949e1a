// PromptModel: the trainable part of one tenant task — prompt vectors
// (shallow or deep, optionally through an MLP during training) plus the task
// head — and its artifact on disk. The backbone is passed in, never owned.
//
// Thread-safety: not thread-safe while training; const methods (inference)
// may run from several threads once training is over.
#ifndef PTUNE_SERVER_PROMPTS_PROMPT_MODEL_H_
#define PTUNE_SERVER_PROMPTS_PROMPT_MODEL_H_

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "server/backbone/backbone.h"
#include "server/datasets/dataset.h"
#include "server/prompts/prompt_spec.h"

namespace ptune::prompts {

class PromptModuleImpl;

// Text tokens per row (incl. [CLS]/[SEP]) a prompt reads when nothing else
// says: training's default, and what serving uses for a prompt whose
// artifact does not record its own (PromptModel::max_tokens).
inline constexpr int kDefaultMaxTokens = 128;

// The MLP reparameterization's learning rate relative to the job's
// (TrainOptions::reparam_learning_rate overrides it).
inline constexpr double kReparamLearningRateScale = 0.1;

// A prompt artifact in memory: the bytes of prompt.safetensors (prompt,
// head.weight, head.bias, and case_embeddings when the spec has them) and of
// prompt.json (format, task, labels, spec, backbone identity, caller
// metadata). Save/Load write and read these two
// files; the service's store keeps them as blobs.
struct PromptArtifact {
  std::string tensors;
  std::string metadata_json;
};

class PromptModel {
 public:
  // A fresh model for `task` with `labels` (classification labels, or the
  // BIO label set for tagging), initialized per spec.init under `seed`.
  static absl::StatusOr<std::unique_ptr<PromptModel>> Create(
      const backbone::Backbone& backbone, datasets::Task task,
      std::vector<std::string> labels, const PromptSpec& spec, uint64_t seed);

  // Loads an artifact folder written by Save; refuses one made for another
  // backbone (different weights checksum).
  static absl::StatusOr<std::unique_ptr<PromptModel>> Load(
      const backbone::Backbone& backbone, const std::string& dir);

  // A model from the served tensors: `prompt` [m, H] (shallow) or
  // [L, 2, m, H] (deep) as spec.kind says, `head_weight` [C, H] and
  // `head_bias` [C] with C = labels.size(), and `case_embeddings`
  // [text::kNumWordCases, H] exactly when spec.case_embeddings. The spec is
  // validated against the backbone and its reparam dropped (the tensors are
  // plain vectors). Load and format importers (peft_format.h) build models
  // through it.
  static absl::StatusOr<std::unique_ptr<PromptModel>> FromTensors(
      const backbone::Backbone& backbone, datasets::Task task,
      std::vector<std::string> labels, PromptSpec spec,
      const at::Tensor& prompt, const at::Tensor& head_weight,
      const at::Tensor& head_bias, const at::Tensor& case_embeddings = {});

  // Load from memory; `source` names the artifact in error messages.
  static absl::StatusOr<std::unique_ptr<PromptModel>> Deserialize(
      const backbone::Backbone& backbone, PromptArtifact artifact,
      const std::string& source);

  ~PromptModel();

  // The artifact Save writes (collapses the MLP first).
  absl::StatusOr<PromptArtifact> Serialize(const nlohmann::json& metadata);

  // Writes <dir>/prompt.safetensors and <dir>/prompt.json (spec, labels,
  // backbone identity, `metadata` such as metrics). Collapses the MLP first.
  absl::Status Save(const std::string& dir, const nlohmann::json& metadata);

  // Tokenizes `texts` the way this prompt reads them: plainly, or laid into
  // its template. Rows keep at most min(max_tokens, MaxTextTokens) tokens.
  absl::StatusOr<backbone::TokenBatch> Tokenize(
      const backbone::Backbone& backbone, const std::vector<std::string>& texts,
      int max_tokens) const;

  // Encoder input for `batch` with this prompt on every row. `training`
  // applies prompt dropout.
  backbone::EncoderInput MakeInput(const backbone::TokenBatch& batch,
                                   bool training) const;

  // Head output: classification [B, C]; tagging [B, T, K] over text tokens.
  absl::StatusOr<at::Tensor> Logits(const backbone::Backbone& backbone,
                                    const backbone::TokenBatch& batch,
                                    bool training) const;

  // The prompt as a differentiable tensor, [m, H] (shallow) or [L, 2, m, H]
  // (deep). With `training` and spec.dropout > 0 a Bernoulli mask is applied,
  // drawn from `generator` (a CPU generator, so a job's draws do not depend
  // on the device or on other jobs) or, when null, from LibTorch's default.
  at::Tensor Prompt(bool training, at::Generator* generator = nullptr) const;

  // The head on hidden states: [..., H] → [..., C].
  at::Tensor Head(const at::Tensor& states) const;
  // The head's parameters ([C, H] and [C]; trainable while training), for
  // applying many prompts' heads in one batched product (MixedLogits).
  const at::Tensor& HeadWeight() const;
  const at::Tensor& HeadBias() const;

  // The case table [text::kNumWordCases, H] (the parameter itself, so
  // gradients reach it); undefined unless spec.case_embeddings.
  at::Tensor CaseEmbeddings() const;

  // λ‖P‖² (zero when spec.l2 is 0).
  at::Tensor Penalty() const;

  // The prompt as served: [m, H] (shallow) or [L, 2, m, H] (deep).
  at::Tensor PromptTensor() const;

  // Casts every tensor (prompt, head, case table) to `dtype`, once, when a
  // prompt enters the serving cache of a half-precision backbone. Serving
  // only: training keeps float32 master weights.
  absl::Status CastForServing(at::ScalarType dtype);

  // Replaces an MLP reparameterization by the vectors it produces.
  void Collapse();

  // Every trainable tensor (prompt or MLP, head, case table) in a fixed
  // order.
  std::vector<at::Tensor> Parameters() const;

  // Parameters() split by learning rate: an MLP
  // reparameterization (Z and its layers) at `reparam_scale` times the
  // job's rate (through an MLP every step moves all m vectors at once, so
  // the direct prompt's rate diverges: kReparamLearningRateScale), the
  // prompt and head at the job's rate, and the case table at a 20th of it,
  // since its rows add to word embeddings of std ~0.06 that Adam's first
  // steps at the prompt's rate (3e-2 a step) would swamp.
  struct ParameterGroup {
    std::vector<at::Tensor> parameters;
    double learning_rate_scale = 1.0;
  };
  std::vector<ParameterGroup> ParameterGroups(
      double reparam_scale = kReparamLearningRateScale) const;
  // ParameterGroups() without the prompt (or its MLP): the head and the
  // case table, for a model whose rows read another model's prompt (an
  // auxiliary task of multi-task pre-training, training::TrainingJob).
  std::vector<ParameterGroup> HeadParameterGroups() const;
  // Named parameters, for checkpoints.
  std::vector<std::pair<std::string, at::Tensor>> NamedParameters() const;

  // INVALID_ARGUMENT naming the first parameter that holds NaN or Inf (a
  // diverged training run; a corrupt import). Such a prompt would answer
  // every request with NaN scores.
  absl::Status CheckFinite() const;

  // Text tokens a row may keep (incl. [CLS]/[SEP]) so that text + shallow
  // prompt fit the backbone's positions.
  int MaxTextTokens(const backbone::Backbone& backbone) const;

  // Text tokens per row (incl. [CLS]/[SEP]) the prompt was trained with,
  // so that serving and evaluation read texts as training did; recorded in
  // the artifact. 0 = not recorded (artifacts of earlier versions, PEFT
  // imports). ReadingMaxTokens: max_tokens(), or kDefaultMaxTokens when 0.
  int max_tokens() const { return max_tokens_; }
  void set_max_tokens(int max_tokens) { max_tokens_ = max_tokens; }
  int ReadingMaxTokens() const { return max_tokens_ > 0 ? max_tokens_ : kDefaultMaxTokens; }

  datasets::Task task() const { return task_; }
  const PromptSpec& spec() const { return spec_; }
  const std::vector<std::string>& labels() const { return labels_; }
  const nlohmann::json& metadata() const { return metadata_; }

 private:
  PromptModel() = default;

  datasets::Task task_ = datasets::Task::kClassify;
  PromptSpec spec_;
  std::vector<std::string> labels_;
  nlohmann::json metadata_;
  int max_tokens_ = 0;
  nlohmann::json backbone_identity_;  // name + weights checksum
  std::shared_ptr<PromptModuleImpl> module_;
};

// Where a shallow prompt of `spec` goes when no template says otherwise:
// its placement (prefix / infix / prefix_infix) as soft-token runs. Used by
// PromptModel::MakeInput and by mixed batches.
std::vector<backbone::PromptSegment> PlacementSegments(const PromptSpec& spec);

}  // namespace ptune::prompts

#endif  // PTUNE_SERVER_PROMPTS_PROMPT_MODEL_H_

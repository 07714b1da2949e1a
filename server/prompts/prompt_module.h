// PromptModuleImpl: the LibTorch module behind PromptModel — the prompt
// parameters (direct, or Z + a two-layer tanh MLP) and the linear head.
// Internal to server/prompts.
#ifndef PTUNE_SERVER_PROMPTS_PROMPT_MODULE_H_
#define PTUNE_SERVER_PROMPTS_PROMPT_MODULE_H_

#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "server/prompts/prompt_spec.h"

namespace ptune::prompts {

struct PromptShape {
  PromptKind kind = PromptKind::kDeep;
  int64_t length = 0;      // m
  int64_t hidden = 0;      // H
  int64_t layers = 0;      // L (deep)
  int64_t num_labels = 0;  // head outputs
  bool case_embeddings = false;
};

class PromptModuleImpl : public torch::nn::Module {
 public:
  // reparam none: a parameter "prompt" of the served shape; mlp: "z" [m, H]
  // and the MLP; with shape.case_embeddings, "case_embeddings"
  // [text::kNumWordCases, H] after the head. Parameters start zero; the
  // caller initializes them.
  PromptModuleImpl(const PromptShape& shape, Reparam reparam, int mlp_hidden);

  // The served prompt [m, H] or [L, 2, m, H]; Bernoulli dropout with
  // probability `dropout` when `training`.
  at::Tensor Prompt(bool training, double dropout) const;

  const PromptShape& shape() const { return shape_; }
  bool reparameterized() const { return !mlp_in_.is_empty(); }
  // The MLP's two layers (reparam mlp; none otherwise), for initialization.
  std::vector<torch::nn::Linear*> mlp_layers() {
    if (!reparameterized()) return {};
    return {&mlp_in_, &mlp_out_};
  }

  at::Tensor prompt;  // reparam none
  at::Tensor z;       // reparam mlp
  torch::nn::Linear head{nullptr};
  at::Tensor case_embeddings;  // undefined unless shape.case_embeddings

 private:
  PromptShape shape_;
  torch::nn::Linear mlp_in_{nullptr}, mlp_out_{nullptr};
};

}  // namespace ptune::prompts

#endif  // PTUNE_SERVER_PROMPTS_PROMPT_MODULE_H_

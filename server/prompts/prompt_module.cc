#include "server/prompts/prompt_module.h"

#include <torch/torch.h>

#include "server/text/word_case.h"

namespace ptune::prompts {

PromptModuleImpl::PromptModuleImpl(const PromptShape& shape, Reparam reparam,
                                   int mlp_hidden)
    : shape_(shape) {
  const int64_t m = shape.length, h = shape.hidden;
  const int64_t width = shape.kind == PromptKind::kDeep ? shape.layers * 2 * h : h;
  if (reparam == Reparam::kMlp) {
    z = register_parameter("z", torch::zeros({m, h}));
    mlp_in_ = register_module("mlp_in", torch::nn::Linear(h, mlp_hidden));
    mlp_out_ = register_module("mlp_out", torch::nn::Linear(mlp_hidden, width));
  } else if (shape.kind == PromptKind::kDeep) {
    prompt = register_parameter("prompt", torch::zeros({shape.layers, 2, m, h}));
  } else {
    prompt = register_parameter("prompt", torch::zeros({m, h}));
  }
  head = register_module("head", torch::nn::Linear(h, shape.num_labels));
  if (shape.case_embeddings) {
    case_embeddings = register_parameter("case_embeddings",
                                         torch::zeros({text::kNumWordCases, h}));
  }
}

at::Tensor PromptModuleImpl::Prompt(bool training, double dropout) const {
  at::Tensor p;
  if (mlp_in_) {
    p = torch::linear(torch::tanh(torch::linear(z, mlp_in_->weight, mlp_in_->bias)),
                      mlp_out_->weight, mlp_out_->bias);
    if (shape_.kind == PromptKind::kDeep) {
      // Row j holds [layer0 key | layer0 value | layer1 key | ...], the
      // layout of PEFT's prefix encoder; serve it as [L, 2, m, H].
      p = p.view({shape_.length, shape_.layers, 2, shape_.hidden})
              .permute({1, 2, 0, 3});
    }
  } else {
    p = prompt;
  }
  if (training && dropout > 0) p = torch::dropout(p, dropout, /*train=*/true);
  return p;
}

}  // namespace ptune::prompts

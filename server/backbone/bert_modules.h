// BERT encoder modules (Hugging Face BertModel semantics, inference-style:
// no dropout). Parameters are laid out for speed (Q, K and V fused into one
// matrix) and filled by LoadBertWeights; they are frozen after loading.
// Not thread-safe to mutate; forward() is const-safe from several threads.
#ifndef PTUNE_SERVER_BACKBONE_BERT_MODULES_H_
#define PTUNE_SERVER_BACKBONE_BERT_MODULES_H_

#include <functional>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include "server/backbone/attention.h"
#include "server/backbone/bert_config.h"

namespace ptune::backbone {

// Word + position + token-type embeddings followed by LayerNorm. Takes the
// input embeddings already gathered (text tokens and shallow prompt vectors).
class BertEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit BertEmbeddingsImpl(const BertConfig& config);

  // inputs_embeds [B, S, H]; position_ids and token_type_ids [B, S] int64.
  at::Tensor forward(const at::Tensor& inputs_embeds,
                     const at::Tensor& position_ids,
                     const at::Tensor& token_type_ids);

  at::Tensor word_embeddings, position_embeddings, token_type_embeddings;
  at::Tensor norm_weight, norm_bias;

 private:
  double eps_;
};
TORCH_MODULE(BertEmbeddings);

// One transformer block: self-attention (with optional key/value prefixes)
// + residual LayerNorm, then GELU feed-forward + residual LayerNorm.
class BertLayerImpl : public torch::nn::Module {
 public:
  explicit BertLayerImpl(const BertConfig& config,
                         AttentionKernel attention = AttentionKernel::kAuto);

  // x [B, S, H]; mask_bias [B, 1, 1, P + S] additive (0 or a large negative);
  // prefix_keys / prefix_values [B, P, H] or undefined (P = 0).
  // `pause` (optional) runs between the attention block and the
  // feed-forward (EncoderInput::pause).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask_bias,
                     const at::Tensor& prefix_keys,
                     const at::Tensor& prefix_values,
                     const std::function<void()>& pause = nullptr);

  at::Tensor qkv_weight, qkv_bias;            // [3H, H], [3H]: Q, K, V rows
  at::Tensor attn_out_weight, attn_out_bias;  // [H, H], [H]
  at::Tensor attn_norm_weight, attn_norm_bias;
  at::Tensor ffn_in_weight, ffn_in_bias;      // [I, H], [I]
  at::Tensor ffn_out_weight, ffn_out_bias;    // [H, I], [H]
  at::Tensor ffn_norm_weight, ffn_norm_bias;

 private:
  BertConfig config_;
  AttentionKernel attention_;
};
TORCH_MODULE(BertLayer);

// Embeddings + the stack of layers.
class BertEncoderImpl : public torch::nn::Module {
 public:
  explicit BertEncoderImpl(const BertConfig& config,
                           AttentionKernel attention = AttentionKernel::kAuto);

  BertEmbeddings embeddings{nullptr};
  std::vector<BertLayer> layers;
};
TORCH_MODULE(BertEncoder);

}  // namespace ptune::backbone

#endif  // PTUNE_SERVER_BACKBONE_BERT_MODULES_H_

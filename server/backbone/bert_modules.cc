#include "server/backbone/bert_modules.h"

#include <cmath>
#include <string>

#include <torch/torch.h>

#include "server/backbone/attention.h"
#include "server/backbone/fused_ops.h"

namespace ptune::backbone {

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& c)
    : eps_(c.layer_norm_eps) {
  const int64_t h = c.hidden_size;
  word_embeddings =
      register_parameter("word_embeddings", torch::zeros({c.vocab_size, h}));
  position_embeddings = register_parameter(
      "position_embeddings", torch::zeros({c.max_position_embeddings, h}));
  token_type_embeddings = register_parameter(
      "token_type_embeddings", torch::zeros({c.type_vocab_size, h}));
  norm_weight = register_parameter("norm_weight", torch::ones({h}));
  norm_bias = register_parameter("norm_bias", torch::zeros({h}));
}

at::Tensor BertEmbeddingsImpl::forward(const at::Tensor& inputs_embeds,
                                       const at::Tensor& position_ids,
                                       const at::Tensor& token_type_ids) {
  at::Tensor x = inputs_embeds + at::embedding(position_embeddings, position_ids) +
                 at::embedding(token_type_embeddings, token_type_ids);
  return at::layer_norm(x, {x.size(-1)}, norm_weight, norm_bias, eps_);
}

BertLayerImpl::BertLayerImpl(const BertConfig& c, AttentionKernel attention)
    : config_(c), attention_(attention) {
  const int64_t h = c.hidden_size, i = c.intermediate_size;
  qkv_weight = register_parameter("qkv_weight", torch::zeros({3 * h, h}));
  qkv_bias = register_parameter("qkv_bias", torch::zeros({3 * h}));
  attn_out_weight = register_parameter("attn_out_weight", torch::zeros({h, h}));
  attn_out_bias = register_parameter("attn_out_bias", torch::zeros({h}));
  attn_norm_weight = register_parameter("attn_norm_weight", torch::ones({h}));
  attn_norm_bias = register_parameter("attn_norm_bias", torch::zeros({h}));
  ffn_in_weight = register_parameter("ffn_in_weight", torch::zeros({i, h}));
  ffn_in_bias = register_parameter("ffn_in_bias", torch::zeros({i}));
  ffn_out_weight = register_parameter("ffn_out_weight", torch::zeros({h, i}));
  ffn_out_bias = register_parameter("ffn_out_bias", torch::zeros({h}));
  ffn_norm_weight = register_parameter("ffn_norm_weight", torch::ones({h}));
  ffn_norm_bias = register_parameter("ffn_norm_bias", torch::zeros({h}));
}

at::Tensor BertLayerImpl::forward(const at::Tensor& x,
                                  const at::Tensor& mask_bias,
                                  const at::Tensor& prefix_keys,
                                  const at::Tensor& prefix_values,
                                  const std::function<void()>& pause) {
  const int64_t b = x.size(0), s = x.size(1), h = x.size(2);
  const int64_t heads = config_.num_attention_heads;
  const double eps = config_.layer_norm_eps;

  const at::Tensor rows = x.reshape({b * s, h});
  // One GEMM for Q, K and V: [B*S, 3H].
  const at::Tensor qkv = at::addmm(qkv_bias, rows, qkv_weight.t());
  const at::Tensor context = MultiHeadAttention(
      qkv, b, heads, mask_bias, prefix_keys, prefix_values, attention_);

  // Without an autograd graph to record (serving, evaluation), the GEMMs
  // skip their bias and one fused pass adds it together with the residual
  // and LayerNorm, or with GELU: in place on the GEMM's fresh output.
  const bool needs_grad =
      at::GradMode::is_enabled() &&
      (x.requires_grad() ||
       (prefix_keys.defined() && prefix_keys.requires_grad()) ||
       (prefix_values.defined() && prefix_values.requires_grad()));
  const bool fused = !needs_grad && FusedKernelsApply(rows);

  at::Tensor y;
  if (fused) {
    y = at::mm(context, attn_out_weight.t());
    BiasResidualLayerNormInPlace(y, attn_out_bias, rows, attn_norm_weight,
                                 attn_norm_bias, eps);
  } else {
    at::Tensor attn = at::addmm(attn_out_bias, context, attn_out_weight.t());
    attn.add_(rows);
    y = at::layer_norm(attn, {h}, attn_norm_weight, attn_norm_bias, eps);
  }

  if (pause) pause();

  at::Tensor inner;
  if (fused && config_.hidden_act == Activation::kGelu) {
    inner = at::mm(y, ffn_in_weight.t());
    BiasGeluInPlace(inner, ffn_in_bias);
  } else {
    inner = at::addmm(ffn_in_bias, y, ffn_in_weight.t());
    switch (config_.hidden_act) {
      case Activation::kGelu:
        inner = needs_grad ? at::gelu(inner) : at::gelu_(inner);
        break;
      case Activation::kGeluTanh:
        inner = needs_grad ? at::gelu(inner, "tanh") : at::gelu_(inner, "tanh");
        break;
      case Activation::kRelu:
        inner = needs_grad ? at::relu(inner) : at::relu_(inner);
        break;
    }
  }
  if (fused) {
    at::Tensor out = at::mm(inner, ffn_out_weight.t());
    return BiasResidualLayerNormInPlace(out, ffn_out_bias, y, ffn_norm_weight,
                                        ffn_norm_bias, eps)
        .view({b, s, h});
  }
  at::Tensor out = at::addmm(ffn_out_bias, inner, ffn_out_weight.t());
  out.add_(y);
  return at::layer_norm(out, {h}, ffn_norm_weight, ffn_norm_bias, eps)
      .view({b, s, h});
}

BertEncoderImpl::BertEncoderImpl(const BertConfig& c, AttentionKernel attention) {
  embeddings = register_module("embeddings", BertEmbeddings(c));
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    layers.push_back(register_module("layer" + std::to_string(l), BertLayer(c, attention)));
  }
}

}  // namespace ptune::backbone

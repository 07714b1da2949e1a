#include "server/backbone/bert_weights.h"

#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "server/backbone/tensor_io.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"

namespace ptune::backbone {
namespace {

using safetensors::SafetensorsFile;

// Resolves `name` or "bert.<name>" (task checkpoints such as
// BertForSequenceClassification nest the encoder under "bert.").
absl::StatusOr<std::string> Resolve(const SafetensorsFile& file,
                                    const std::string& name) {
  if (file.Contains(name)) return name;
  if (file.Contains("bert." + name)) return "bert." + name;
  return absl::InvalidArgumentError(absl::StrCat(
      file.source_name(), ": missing tensor \"", name,
      "\" (is this a BERT-family checkpoint?)"));
}

// Copies the tensor `name` into `dest` (a parameter or a slice of one),
// checking the shape.
absl::Status CopyInto(const SafetensorsFile& file, const std::string& name,
                      at::Tensor dest) {
  ASSIGN_OR_RETURN(const std::string resolved, Resolve(file, name));
  ASSIGN_OR_RETURN(const at::Tensor source,
                   ReadTensor(file, resolved, dest.sizes().vec()));
  return common::TorchCall(absl::StrCat("loading ", name),
                           [&] { dest.copy_(source); });
}

}  // namespace

absl::Status LoadBertWeights(const SafetensorsFile& file,
                             const BertConfig& config, BertEncoder& encoder) {
  torch::NoGradGuard no_grad;
  auto& emb = *encoder->embeddings;
  RETURN_IF_ERROR(CopyInto(file, "embeddings.word_embeddings.weight",
                           emb.word_embeddings));
  RETURN_IF_ERROR(CopyInto(file, "embeddings.position_embeddings.weight",
                           emb.position_embeddings));
  RETURN_IF_ERROR(CopyInto(file, "embeddings.token_type_embeddings.weight",
                           emb.token_type_embeddings));
  RETURN_IF_ERROR(
      CopyInto(file, "embeddings.LayerNorm.weight", emb.norm_weight));
  RETURN_IF_ERROR(CopyInto(file, "embeddings.LayerNorm.bias", emb.norm_bias));

  const int64_t h = config.hidden_size;
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    auto& layer = *encoder->layers[l];
    const std::string p = absl::StrCat("encoder.layer.", l, ".");
    const char* qkv_names[] = {"query", "key", "value"};
    for (int i = 0; i < 3; ++i) {
      const std::string base =
          absl::StrCat(p, "attention.self.", qkv_names[i]);
      RETURN_IF_ERROR(CopyInto(file, base + ".weight",
                               layer.qkv_weight.narrow(0, i * h, h)));
      RETURN_IF_ERROR(
          CopyInto(file, base + ".bias", layer.qkv_bias.narrow(0, i * h, h)));
    }
    RETURN_IF_ERROR(CopyInto(file, p + "attention.output.dense.weight",
                             layer.attn_out_weight));
    RETURN_IF_ERROR(CopyInto(file, p + "attention.output.dense.bias",
                             layer.attn_out_bias));
    RETURN_IF_ERROR(CopyInto(file, p + "attention.output.LayerNorm.weight",
                             layer.attn_norm_weight));
    RETURN_IF_ERROR(CopyInto(file, p + "attention.output.LayerNorm.bias",
                             layer.attn_norm_bias));
    RETURN_IF_ERROR(CopyInto(file, p + "intermediate.dense.weight",
                             layer.ffn_in_weight));
    RETURN_IF_ERROR(
        CopyInto(file, p + "intermediate.dense.bias", layer.ffn_in_bias));
    RETURN_IF_ERROR(
        CopyInto(file, p + "output.dense.weight", layer.ffn_out_weight));
    RETURN_IF_ERROR(CopyInto(file, p + "output.dense.bias", layer.ffn_out_bias));
    RETURN_IF_ERROR(CopyInto(file, p + "output.LayerNorm.weight",
                             layer.ffn_norm_weight));
    RETURN_IF_ERROR(
        CopyInto(file, p + "output.LayerNorm.bias", layer.ffn_norm_bias));
  }
  return absl::OkStatus();
}

}  // namespace ptune::backbone

#include "server/backbone/bert_weights.h"

#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"

namespace ptune::backbone {
namespace {

using safetensors::DType;
using safetensors::SafetensorsFile;
using safetensors::TensorView;

absl::StatusOr<at::ScalarType> TorchType(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return at::kFloat;
    case DType::kF16:
      return at::kHalf;
    case DType::kBF16:
      return at::kBFloat16;
    case DType::kF64:
      return at::kDouble;
    default:
      return absl::InvalidArgumentError("weights must be F32, F16, BF16 or F64");
  }
}

// Finds `name` or "bert.<name>" (task checkpoints such as
// BertForSequenceClassification nest the encoder under "bert.").
absl::StatusOr<TensorView> Find(const SafetensorsFile& file,
                                const std::string& name) {
  if (file.Contains(name)) return file.Get(name);
  if (file.Contains("bert." + name)) return file.Get("bert." + name);
  return absl::InvalidArgumentError(absl::StrCat(
      file.source_name(), ": missing tensor \"", name,
      "\" (is this a BERT-family checkpoint?)"));
}

// Copies the tensor `name` into `dest` (rows [row_begin, row_begin + rows)
// of dest's first dimension when rows > 0), checking the shape.
absl::Status CopyInto(const SafetensorsFile& file, const std::string& name,
                      at::Tensor dest) {
  ASSIGN_OR_RETURN(const TensorView view, Find(file, name));
  ASSIGN_OR_RETURN(const at::ScalarType type, TorchType(view.dtype));
  if (view.shape != dest.sizes().vec()) {
    return absl::InvalidArgumentError(absl::StrCat(
        file.source_name(), ": tensor \"", name, "\" has shape [",
        absl::StrJoin(view.shape, ","), "], expected [",
        absl::StrJoin(dest.sizes().vec(), ","), "]"));
  }
  return common::TorchCall(absl::StrCat("loading ", name), [&] {
    // from_blob does not copy; copy_ converts the dtype into the parameter.
    const at::Tensor source = at::from_blob(
        const_cast<uint8_t*>(view.data), view.shape,
        at::TensorOptions().dtype(type));
    dest.copy_(source);
  });
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

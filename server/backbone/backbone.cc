#include "server/backbone/backbone.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>

#include <torch/cuda.h>
#include <torch/torch.h>
#include <unicode/locid.h>
#include <unicode/unistr.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/backbone/bert_modules.h"
#include "server/backbone/bert_weights.h"
#include "server/backbone/dtype.h"
#include "server/backbone/prompt_layout.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"
#include "server/device/device_copy.h"
#include "server/device/device_runtime.h"
#include "server/safetensors/safetensors.h"

namespace ptune::backbone {
namespace {

absl::StatusOr<c10::Device> ResolveDevice(const std::string& name) {
  if (name == "auto") {
    return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0)
                                       : c10::Device(c10::kCPU);
  }
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "device \"", name,
          "\" requested but this LibTorch build or machine has no CUDA"));
    }
    auto device = common::TorchCall("device", [&] { return c10::Device(name); });
    if (!device.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid device \"", name, "\""));
    }
    return *device;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid device \"", name, "\" (auto, cpu, cuda, cuda:N)"));
}

absl::StatusOr<at::ScalarType> ResolveDtype(const std::string& name,
                                            const c10::Device& device) {
  ASSIGN_OR_RETURN(const at::ScalarType type, ParseDtype(name));
  if (type == at::kFloat) return type;
  // bfloat16 runs on CPUs too (LibTorch's CPU bf16 kernels: slow without
  // bf16 units, but it lets CI test the half-precision paths); float16
  // GEMMs exist only on CUDA.
  if (type == at::kHalf && !device.is_cuda()) {
    return absl::InvalidArgumentError(
        "dtype float16 needs a CUDA device (LibTorch has no float16 GEMMs on CPU); "
        "use bfloat16 or float32 on CPU");
  }
  // A GPU without native kernels for it (known only to CUDA builds).
  if (device.is_cuda()) {
    if (absl::StatusOr<device::ComputeCapability> capability =
            device::QueryComputeCapability(device);
        capability.ok()) {
      RETURN_IF_ERROR(device::CheckCudaDtype(type, *capability));
    }
  }
  return type;
}

absl::StatusOr<std::string> FileChecksum(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  uint64_t hash = 1469598103934665603ULL;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), buffer.size());
    const std::streamsize n = in.gcount();
    for (std::streamsize i = 0; i < n; ++i) {
      hash ^= static_cast<uint8_t>(buffer[i]);
      hash *= 1099511628211ULL;
    }
  }
  return absl::StrFormat("fnv1a64:%016x", hash);
}

std::string LowercaseUnicode(const std::string& text) {
  std::string out;
  icu::UnicodeString::fromUTF8(text).toLower(icu::Locale::getRoot()).toUTF8String(out);
  return out;
}

}  // namespace

absl::StatusOr<EmbedPooling> ParseEmbedPooling(absl::string_view name) {
  if (name == "cls") return EmbedPooling::kCls;
  if (name == "mean") return EmbedPooling::kMean;
  if (name == "sentence") return EmbedPooling::kSentence;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown pooling \"", name, "\" (cls, mean, sentence)"));
}

absl::StatusOr<at::ScalarType> ParseDtype(absl::string_view name) {
  if (name == "float32" || name == "fp32") return at::kFloat;
  if (name == "float16" || name == "fp16") return at::kHalf;
  if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid dtype \"", name, "\" (float32, float16, bfloat16)"));
}

Backbone::~Backbone() = default;

absl::StatusOr<std::unique_ptr<Backbone>> Backbone::Create(
    const Options& options) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(options.dir)) {
    return absl::NotFoundError(
        absl::StrCat("backbone folder \"", options.dir, "\" does not exist"));
  }
  std::unique_ptr<Backbone> backbone(new Backbone());
  ASSIGN_OR_RETURN(backbone->device_, ResolveDevice(options.device));
  ASSIGN_OR_RETURN(backbone->dtype_,
                   ResolveDtype(options.dtype, backbone->device_));
  ASSIGN_OR_RETURN(const AttentionKernel attention,
                   ParseAttentionKernel(options.attention));
  ASSIGN_OR_RETURN(backbone->config_, LoadBertConfig(options.dir));
  ASSIGN_OR_RETURN(backbone->tokenizer_,
                   text::Tokenizer::FromDirectory(options.dir));
  if (backbone->tokenizer_->vocab_size() > backbone->config_.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.dir, ": tokenizer vocabulary (", backbone->tokenizer_->vocab_size(),
        ") larger than the model's (", backbone->config_.vocab_size, ")"));
  }
  ASSIGN_OR_RETURN(backbone->sentence_, LoadSentencePipeline(options.dir));

  const std::string weights = options.dir + "/model.safetensors";
  if (!fs::exists(weights)) {
    return absl::NotFoundError(absl::StrCat(
        options.dir, ": no model.safetensors (convert pytorch_model.bin with "
                     "the safetensors package)"));
  }
  ASSIGN_OR_RETURN(auto file, safetensors::SafetensorsFile::Open(weights));
  ASSIGN_OR_RETURN(backbone->checksum_, FileChecksum(weights));
  backbone->name_ = fs::path(options.dir).lexically_normal().filename().string();
  if (backbone->name_.empty() || backbone->name_ == "model") {
    backbone->name_ = fs::path(options.dir).lexically_normal().parent_path()
                          .filename().string();
  }

  RETURN_IF_ERROR(common::TorchCall("building the encoder", [&] {
    backbone->encoder_ = std::make_shared<BertEncoderImpl>(backbone->config_, attention);
  }));
  BertEncoder encoder(backbone->encoder_);
  RETURN_IF_ERROR(LoadBertWeights(*file, backbone->config_, encoder));
  RETURN_IF_ERROR(common::TorchCall("moving the encoder to its device", [&] {
    encoder->to(backbone->device_, backbone->dtype_);
    for (at::Tensor& p : encoder->parameters()) p.set_requires_grad(false);
    encoder->eval();
  }));
  return backbone;
}

const at::Tensor& Backbone::word_embeddings() const {
  return encoder_->embeddings->word_embeddings;
}

std::vector<at::Tensor> Backbone::Parameters() const {
  return encoder_->parameters();
}

absl::StatusOr<TokenBatch> Backbone::Tokenize(
    const std::vector<std::string>& texts, int max_tokens) const {
  ASSIGN_OR_RETURN(std::vector<text::Encoding> rows,
                   tokenizer_->EncodeBatch(texts, max_tokens));
  return Collate(std::move(rows));
}

absl::StatusOr<TokenBatch> Backbone::Collate(
    std::vector<text::Encoding> rows) const {
  size_t longest = 0;
  for (const auto& row : rows) longest = std::max(longest, row.ids.size());
  const int64_t b = static_cast<int64_t>(rows.size());
  const int64_t t = static_cast<int64_t>(longest);
  if (t > config_.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a row has ", t, " tokens; the backbone accepts at most ",
        config_.max_position_embeddings));
  }
  std::vector<int64_t> ids(b * t, config_.pad_token_id);
  std::vector<int64_t> mask(b * t, 0);
  TokenBatch batch;
  batch.row_lengths.reserve(b);
  for (int64_t r = 0; r < b; ++r) {
    const auto& row = rows[r].ids;
    for (size_t i = 0; i < row.size(); ++i) {
      ids[r * t + i] = row[i];
      mask[r * t + i] = 1;
    }
    batch.row_lengths.push_back(static_cast<int64_t>(row.size()));
  }
  RETURN_IF_ERROR(common::TorchCall("collating a batch", [&] {
    batch.input_ids = device::ToDevice(ids, device_, {b, t});
    batch.attention_mask = device::ToDevice(mask, device_, {b, t});
  }));
  batch.encodings = std::move(rows);
  return batch;
}

at::Tensor EncoderOutput::TextStates() const {
  const int64_t h = hidden.size(2);
  return hidden.gather(
      1, text_positions.unsqueeze(-1).expand({text_positions.size(0),
                                              text_positions.size(1), h}));
}

absl::StatusOr<EncoderOutput> Backbone::Forward(const EncoderInput& in) const {
  if (!in.input_ids.defined() || in.input_ids.dim() != 2 ||
      !in.attention_mask.defined() ||
      in.attention_mask.sizes() != in.input_ids.sizes()) {
    return absl::InvalidArgumentError(
        "input_ids and attention_mask must be [B, T] tensors of one shape");
  }
  const int64_t b = in.input_ids.size(0), t = in.input_ids.size(1);
  const int64_t h = config_.hidden_size;
  const bool has_shallow = in.shallow.embeddings.defined();
  const bool has_deep = in.deep.key_values.defined();
  if (has_shallow && (in.shallow.embeddings.dim() != 3 ||
                      in.shallow.embeddings.size(0) != b ||
                      in.shallow.embeddings.size(2) != h)) {
    return absl::InvalidArgumentError(
        absl::StrCat("shallow prompt embeddings must be [", b, ", M, ", h, "]"));
  }
  if (in.added_embeddings.defined() &&
      in.added_embeddings.sizes() != at::IntArrayRef({b, t, h})) {
    return absl::InvalidArgumentError(
        absl::StrCat("added embeddings must be [", b, ", ", t, ", ", h, "]"));
  }
  int64_t prefix = 0;
  if (has_deep) {
    const auto& kv = in.deep.key_values;
    if (kv.dim() != 5 || kv.size(0) != config_.num_hidden_layers ||
        kv.size(1) != 2 || kv.size(2) != b || kv.size(4) != h ||
        static_cast<int64_t>(in.deep.lengths.size()) != b) {
      return absl::InvalidArgumentError(absl::StrCat(
          "deep prompts must be [", config_.num_hidden_layers, ", 2, ", b,
          ", M, ", h, "] with one length per row"));
    }
    prefix = kv.size(3);
    for (int32_t len : in.deep.lengths) {
      if (len < 0 || len > prefix) {
        return absl::InvalidArgumentError(absl::StrCat(
            "deep prompt length ", len, " outside [0, ", prefix, "]"));
      }
    }
  }

  return common::TorchCall("encoder forward", [&]() -> absl::StatusOr<EncoderOutput> {
    std::vector<int64_t> row_lengths = in.row_lengths;
    if (static_cast<int64_t>(row_lengths.size()) != b) {
      // No host copy: read the mask back (a synchronization on CUDA).
      const at::Tensor lengths_cpu =
          in.attention_mask.to(at::kCPU, at::kLong).sum(1).contiguous();
      row_lengths.assign(lengths_cpu.data_ptr<int64_t>(),
                         lengths_cpu.data_ptr<int64_t>() + b);
    }
    std::vector<int64_t> token_types;
    if (in.token_type_ids.defined()) {
      const at::Tensor tt = in.token_type_ids.to(at::kCPU, at::kLong).contiguous();
      token_types.assign(tt.data_ptr<int64_t>(), tt.data_ptr<int64_t>() + b * t);
    }
    const int64_t prompt_rows = has_shallow ? in.shallow.embeddings.size(1) : 0;
    ASSIGN_OR_RETURN(PromptLayout layout,
                     BuildPromptLayout(row_lengths, t, token_types,
                                       has_shallow ? in.shallow.segments
                                                   : std::vector<std::vector<PromptSegment>>{},
                                       prompt_rows));
    if (layout.seq_len == 0) {
      return absl::InvalidArgumentError("every row is empty (no tokens)");
    }
    int64_t longest_deep = 0;
    for (int32_t len : in.deep.lengths) longest_deep = std::max<int64_t>(longest_deep, len);
    if (layout.seq_len + longest_deep > config_.max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sequence of ", layout.seq_len, " positions plus a deep prompt of ", longest_deep,
          " exceeds the backbone's ", config_.max_position_embeddings,
          " positions"));
    }
    auto& emb = *encoder_->embeddings;
    at::Tensor inputs = at::embedding(emb.word_embeddings, in.input_ids);
    if (in.added_embeddings.defined()) {
      inputs = inputs + in.added_embeddings.to(device_, dtype_);
    }
    if (has_shallow) {
      inputs = at::cat({inputs, in.shallow.embeddings.to(device_, dtype_)}, 1);
    }
    const at::Tensor source = device::ToDevice(layout.source, device_, {b, layout.seq_len});
    inputs = inputs.gather(1, source.unsqueeze(-1).expand({b, layout.seq_len, h}));

    // Text positions start after the deep prefix, as Hugging Face numbers
    // positions after past_key_values.
    std::vector<int64_t> positions(b * layout.seq_len);
    for (int64_t r = 0; r < b; ++r) {
      const int64_t offset = has_deep ? in.deep.lengths[r] : 0;
      for (int64_t p = 0; p < layout.seq_len; ++p) {
        positions[r * layout.seq_len + p] = p + offset;
      }
    }
    const at::Tensor position_ids = device::ToDevice(positions, device_, {b, layout.seq_len});
    const at::Tensor token_type_ids =
        device::ToDevice(layout.token_type, device_, {b, layout.seq_len});
    at::Tensor x = emb.forward(inputs, position_ids, token_type_ids);

    // Additive attention mask over [deep prefix | sequence].
    std::vector<uint8_t> keep(b * (prefix + layout.seq_len), 0);
    for (int64_t r = 0; r < b; ++r) {
      uint8_t* row = keep.data() + r * (prefix + layout.seq_len);
      for (int64_t j = 0; j < prefix; ++j) row[j] = j < in.deep.lengths[r];
      std::copy_n(layout.mask.data() + r * layout.seq_len, layout.seq_len,
                  row + prefix);
    }
    const at::Tensor keep_mask =
        device::MaskToDevice(keep, device_, {b, prefix + layout.seq_len});
    const double lowest = dtype_ == at::kFloat
                              ? std::numeric_limits<float>::lowest()
                              : (dtype_ == at::kHalf ? -65504.0 : -3.38e38);
    const at::Tensor mask_bias =
        at::zeros({b, 1, 1, prefix + layout.seq_len},
                  at::TensorOptions().dtype(dtype_).device(device_))
            .masked_fill_(keep_mask.logical_not().view({b, 1, 1, -1}), lowest);

    for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
      at::Tensor keys, values;
      if (has_deep) {
        // A no-op when the prompts were cast for serving; a (differentiable)
        // cast of float32 master weights when training on a half backbone.
        keys = in.deep.key_values[l][0].to(dtype_);
        values = in.deep.key_values[l][1].to(dtype_);
      }
      x = encoder_->layers[l]->forward(x, mask_bias, keys, values, in.pause);
      if (in.pause && l + 1 < config_.num_hidden_layers) in.pause();
    }

    EncoderOutput out;
    out.hidden = x;
    out.sequence_mask = keep_mask.narrow(1, prefix, layout.seq_len);
    out.text_positions = device::ToDevice(layout.text_positions, device_, {b, t});
    out.text_mask = in.attention_mask.to(at::kBool);
    return out;
  });
}

absl::StatusOr<at::Tensor> Backbone::Embed(const std::vector<std::string>& texts,
                                           EmbedPooling pooling) const {
  int max_tokens = 0;
  PoolingMode mode = pooling == EmbedPooling::kCls ? PoolingMode::kCls
                                                   : PoolingMode::kMean;
  std::vector<std::string> inputs = texts;
  if (pooling == EmbedPooling::kSentence) {
    max_tokens = sentence_.max_seq_length;
    mode = sentence_.pooling;
    if (sentence_.lowercase) {
      for (std::string& text : inputs) text = LowercaseUnicode(text);
    }
  }
  ASSIGN_OR_RETURN(TokenBatch batch, Tokenize(inputs, max_tokens));
  return common::TorchCall("embed", [&]() -> absl::StatusOr<at::Tensor> {
    c10::InferenceMode inference;
    EncoderInput input;
    input.input_ids = batch.input_ids;
    input.attention_mask = batch.attention_mask;
    input.row_lengths = batch.row_lengths;
    ASSIGN_OR_RETURN(EncoderOutput out, Forward(input));
    at::Tensor pooled = Pool(out.TextStates(), out.text_mask, mode);
    if (pooling == EmbedPooling::kSentence && sentence_.normalize) {
      pooled = pooled / pooled.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12);
    }
    return pooled.to(at::kCPU, at::kFloat);
  });
}

}  // namespace ptune::backbone

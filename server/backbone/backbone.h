// Backbone: the one frozen pretrained encoder a server holds — tokenizer,
// BERT encoder weights on one device, and the sentence-transformers pooling
// its folder describes. Shared by every tenant; its parameters never change
// (requires_grad=false), but gradients flow through it to prompt inputs.
//
// Thread-safety: immutable after Create; Forward/Embed may run concurrently
// (the serving engine still calls them from one device thread).
#ifndef PTUNE_SERVER_BACKBONE_BACKBONE_H_
#define PTUNE_SERVER_BACKBONE_BACKBONE_H_

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "absl/status/statusor.h"
#include "server/backbone/bert_config.h"
#include "server/backbone/encoder_io.h"
#include "server/backbone/pooling.h"
#include "server/text/tokenizer.h"

namespace ptune::backbone {

class BertEncoderImpl;

// How Embed() turns token states into one vector.
enum class EmbedPooling { kCls, kMean, kSentence };
absl::StatusOr<EmbedPooling> ParseEmbedPooling(absl::string_view name);

// A padded batch of token ids ready for Forward.
struct TokenBatch {
  at::Tensor input_ids;       // [B, T] int64 on the backbone's device
  at::Tensor attention_mask;  // [B, T] int64 on the backbone's device
  std::vector<int64_t> row_lengths;       // host: tokens of each row
  std::vector<text::Encoding> encodings;  // offsets for each row
  // Set when rows were laid into a prompt template: per row, where its soft
  // runs go and the token index of its [MASK] slot.
  std::vector<std::vector<PromptSegment>> segments;
  std::vector<int32_t> slot_positions;
};

class Backbone {
 public:
  struct Options {
    // Hugging Face folder: config.json, model.safetensors, vocab.txt or
    // tokenizer.json (+ optional sentence-transformers files).
    std::string dir;
    // "cpu", "cuda", "cuda:N" or "auto" (= cuda when one is available).
    std::string device = "auto";
    // "float32", or "float16" / "bfloat16" (halves memory and roughly
    // doubles throughput on tensor cores; outputs differ by ~1e-3).
    // float16 needs CUDA; bfloat16 also runs on CPU (slowly without bf16
    // units). Prompts are cast to it when they enter the serving cache.
    std::string dtype = "float32";
    // Attention implementation: "auto" (the measured fastest for the
    // device, dtype and LibTorch: tests/bench/README.md §15), "sdpa"
    // (scaled_dot_product_attention, LibTorch 2.x) or "matmul".
    std::string attention = "auto";
  };

  static absl::StatusOr<std::unique_ptr<Backbone>> Create(const Options& options);
  ~Backbone();

  const BertConfig& config() const { return config_; }
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }
  const SentencePipeline& sentence_pipeline() const { return sentence_; }
  c10::Device device() const { return device_; }
  at::ScalarType dtype() const { return dtype_; }
  // Model name from the folder, and an FNV-1a-64 checksum of the weights
  // file: a prompt trained against one backbone is refused by another.
  const std::string& name() const { return name_; }
  const std::string& weights_checksum() const { return checksum_; }
  int64_t hidden_size() const { return config_.hidden_size; }

  // Tokenizes and pads `texts`; each row keeps at most `max_tokens` tokens
  // including [CLS]/[SEP] (0 = the model maximum).
  absl::StatusOr<TokenBatch> Tokenize(const std::vector<std::string>& texts,
                                      int max_tokens = 0) const;
  // Pads already tokenized rows.
  absl::StatusOr<TokenBatch> Collate(std::vector<text::Encoding> rows) const;

  // One encoder forward. Differentiable with respect to the prompt tensors
  // unless called under InferenceMode / NoGradGuard.
  absl::StatusOr<EncoderOutput> Forward(const EncoderInput& input) const;

  // Embeddings of `texts` ([B, H], float32 on the CPU), no prompts.
  absl::StatusOr<at::Tensor> Embed(const std::vector<std::string>& texts,
                                   EmbedPooling pooling) const;

  // The frozen word-embedding table [V, H] (for prompt initialization).
  const at::Tensor& word_embeddings() const;

  // Every backbone parameter (all frozen), e.g. to check none gets a gradient.
  std::vector<at::Tensor> Parameters() const;

 private:
  Backbone() = default;

  BertConfig config_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  SentencePipeline sentence_;
  std::shared_ptr<BertEncoderImpl> encoder_;
  c10::Device device_ = c10::Device(c10::kCPU);
  at::ScalarType dtype_ = at::kFloat;
  std::string name_;
  std::string checksum_;
};

}  // namespace ptune::backbone

#endif  // PTUNE_SERVER_BACKBONE_BACKBONE_H_

// BertConfig: the encoder hyper-parameters of a Hugging Face BERT-family
// folder (config.json). Plain value type.
#ifndef PTUNE_SERVER_BACKBONE_BERT_CONFIG_H_
#define PTUNE_SERVER_BACKBONE_BERT_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ptune::backbone {

enum class Activation { kGelu, kGeluTanh, kRelu };

struct BertConfig {
  std::string model_type = "bert";
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  int64_t pad_token_id = 0;
  double layer_norm_eps = 1e-12;
  Activation hidden_act = Activation::kGelu;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
};

// Parses and validates config.json text. `source` names the file in errors.
absl::StatusOr<BertConfig> ParseBertConfig(absl::string_view json,
                                           absl::string_view source);

// Reads <dir>/config.json.
absl::StatusOr<BertConfig> LoadBertConfig(const std::string& dir);

}  // namespace ptune::backbone

#endif  // PTUNE_SERVER_BACKBONE_BERT_CONFIG_H_

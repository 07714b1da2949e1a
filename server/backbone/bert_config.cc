#include "server/backbone/bert_config.h"


#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/files.h"
#include "server/common/status_macros.h"

namespace ptune::backbone {
namespace {

using nlohmann::json;

absl::Status ReadInt(const json& j, const char* key, bool required,
                     absl::string_view source, int64_t* out) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (!required) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": missing required field \"", key, "\""));
  }
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": field \"", key, "\" must be an integer"));
  }
  *out = it->get<int64_t>();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BertConfig> ParseBertConfig(absl::string_view text,
                                           absl::string_view source) {
  const json j = json::parse(text.begin(), text.end(), nullptr,
                             /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a JSON object"));
  }
  BertConfig c;
  if (auto it = j.find("model_type"); it != j.end() && it->is_string()) {
    c.model_type = it->get<std::string>();
  }
  // BERT, MiniLM and BGE checkpoints all declare "bert"; other families need
  // their own modules (RoBERTa's position offset, DistilBERT's layout).
  if (c.model_type != "bert") {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": model_type \"", c.model_type,
        "\" is not supported (supported: bert, which covers BERT, MiniLM, BGE)"));
  }
  RETURN_IF_ERROR(ReadInt(j, "vocab_size", true, source, &c.vocab_size));
  RETURN_IF_ERROR(ReadInt(j, "hidden_size", true, source, &c.hidden_size));
  RETURN_IF_ERROR(
      ReadInt(j, "num_hidden_layers", true, source, &c.num_hidden_layers));
  RETURN_IF_ERROR(
      ReadInt(j, "num_attention_heads", true, source, &c.num_attention_heads));
  RETURN_IF_ERROR(
      ReadInt(j, "intermediate_size", true, source, &c.intermediate_size));
  RETURN_IF_ERROR(ReadInt(j, "max_position_embeddings", false, source,
                          &c.max_position_embeddings));
  RETURN_IF_ERROR(
      ReadInt(j, "type_vocab_size", false, source, &c.type_vocab_size));
  RETURN_IF_ERROR(ReadInt(j, "pad_token_id", false, source, &c.pad_token_id));
  if (auto it = j.find("layer_norm_eps"); it != j.end()) {
    if (!it->is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": field \"layer_norm_eps\" must be a number"));
    }
    c.layer_norm_eps = it->get<double>();
  }
  if (auto it = j.find("hidden_act"); it != j.end()) {
    const std::string act = it->is_string() ? it->get<std::string>() : "";
    if (act == "gelu") {
      c.hidden_act = Activation::kGelu;
    } else if (act == "gelu_new" || act == "gelu_pytorch_tanh") {
      c.hidden_act = Activation::kGeluTanh;
    } else if (act == "relu") {
      c.hidden_act = Activation::kRelu;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": hidden_act \"", act,
          "\" is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)"));
    }
  }
  if (auto it = j.find("position_embedding_type");
      it != j.end() && *it != "absolute") {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": only position_embedding_type \"absolute\" is supported"));
  }
  const auto positive = [&](int64_t v, const char* name) -> absl::Status {
    if (v > 0 && v <= (int64_t{1} << 24)) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", name, "=", v, " is out of range"));
  };
  RETURN_IF_ERROR(positive(c.vocab_size, "vocab_size"));
  RETURN_IF_ERROR(positive(c.hidden_size, "hidden_size"));
  RETURN_IF_ERROR(positive(c.num_hidden_layers, "num_hidden_layers"));
  RETURN_IF_ERROR(positive(c.num_attention_heads, "num_attention_heads"));
  RETURN_IF_ERROR(positive(c.intermediate_size, "intermediate_size"));
  RETURN_IF_ERROR(positive(c.max_position_embeddings, "max_position_embeddings"));
  RETURN_IF_ERROR(positive(c.type_vocab_size, "type_vocab_size"));
  if (c.hidden_size % c.num_attention_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": hidden_size ", c.hidden_size,
        " is not a multiple of num_attention_heads ", c.num_attention_heads));
  }
  if (c.pad_token_id < 0 || c.pad_token_id >= c.vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": pad_token_id outside the vocabulary"));
  }
  return c;
}

absl::StatusOr<BertConfig> LoadBertConfig(const std::string& dir) {
  const std::string path = dir + "/config.json";
  ASSIGN_OR_RETURN(const std::string text, common::ReadFile(path));
  return ParseBertConfig(text, path);
}

}  // namespace ptune::backbone

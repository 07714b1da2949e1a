#include "server/prompts/peft_format.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "server/backbone/tensor_io.h"
#include "server/common/files.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"
#include "server/prompts/json_fields.h"
#include "server/safetensors/safetensors.h"

namespace ptune::prompts {
namespace {

using nlohmann::json;

constexpr char kConfigFile[] = "adapter_config.json";
constexpr char kWeightsFile[] = "adapter_model.safetensors";
constexpr char kSidecarFile[] = "ptune_export.json";
constexpr char kSidecarFormat[] = "ptune.peft_export.v1";
// Key names as peft 0.10.0 saves a prompt-learning PeftModelFor*
// Classification around a BertFor*Classification (classifier is in
// modules_to_save; PEFT strips ".modules_to_save.default").
constexpr char kPromptKey[] = "prompt_embeddings";
constexpr char kHeadWeightKey[] = "base_model.classifier.weight";
constexpr char kHeadBiasKey[] = "base_model.classifier.bias";

// config[key] as an integer; `fallback` when absent or null (nullopt
// fallback = required).
absl::StatusOr<int64_t> IntField(const json& config, const std::string& key,
                                 std::optional<int64_t> fallback,
                                 const std::string& where) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) {
    if (fallback.has_value()) return *fallback;
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"", key, "\" is missing"));
  }
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"", key, "\" must be an integer"));
  }
  return it->get<int64_t>();
}

// [L, 2, m, H] -> [m, L*2*H]: row j = [layer0 key | layer0 value | layer1 key
// | ...] of virtual token j, as PEFT's get_prompt views it
// (view(B, m, L*2, heads, H/heads).permute(2, 0, 3, 1, 4).split(2)).
at::Tensor DeepToPeft(const at::Tensor& p) {
  return p.permute({2, 0, 1, 3}).reshape({p.size(2), -1}).contiguous();
}

// The inverse of DeepToPeft.
at::Tensor PeftToDeep(const at::Tensor& rows, int64_t layers, int64_t hidden) {
  return rows.view({rows.size(0), layers, 2, hidden})
      .permute({1, 2, 0, 3})
      .contiguous();
}

// How to read ptune's logits out of PEFT's, for ptune_export.json.
std::string Readout(const PromptModel& model) {
  const std::string text_index =
      model.spec().kind == PromptKind::kShallow
          ? absl::StrCat("text token t is at index ", model.spec().length,
                         " + t of PEFT's logits (the ", model.spec().length,
                         " virtual tokens come first)")
          : "text token t is at index t of PEFT's logits";
  if (model.task() == datasets::Task::kTag) {
    return absl::StrCat("TOKEN_CLS: ", text_index);
  }
  return absl::StrCat(
      "classification exported as TOKEN_CLS (PEFT's SEQ_CLS classifier reads "
      "BERT's pooler, which ptune's head does not have): ",
      text_index, "; ptune's class logits are ",
      model.spec().pooling == HeadPooling::kMean
          ? "the attention-mask mean of the text tokens' logits"
          : "the logits of text token 0 ([CLS])");
}

json AdapterConfig(const PromptModel& model, const backbone::Backbone& backbone,
                   const PeftExportOptions& options) {
  const backbone::BertConfig& c = backbone.config();
  json config = {
      {"auto_mapping", nullptr},
      {"base_model_name_or_path", options.base_model_name_or_path.empty()
                                      ? backbone.name()
                                      : options.base_model_name_or_path},
      {"inference_mode", true},
      {"num_attention_heads", c.num_attention_heads},
      {"num_layers", c.num_hidden_layers},
      {"num_transformer_submodules", 1},
      {"num_virtual_tokens", model.spec().length},
      {"revision", nullptr},
      {"task_type", "TOKEN_CLS"},
      {"token_dim", c.hidden_size},
  };
  if (model.spec().kind == PromptKind::kDeep) {
    config["peft_type"] = "PREFIX_TUNING";
    config["encoder_hidden_size"] = c.hidden_size;
    config["prefix_projection"] = false;
  } else {
    config["peft_type"] = "PROMPT_TUNING";
    // RANDOM: PEFT must not re-run a TEXT init (it would need a tokenizer).
    config["prompt_tuning_init"] = "RANDOM";
    config["prompt_tuning_init_text"] = nullptr;
    config["tokenizer_kwargs"] = nullptr;
    config["tokenizer_name_or_path"] = nullptr;
  }
  return config;
}

}  // namespace

absl::Status ExportPeftAdapter(const PromptModel& model,
                               const backbone::Backbone& backbone,
                               const std::string& dir,
                               const PeftExportOptions& options) {
  const PromptSpec& spec = model.spec();
  if (spec.kind == PromptKind::kShallow &&
      spec.placement != Placement::kPrefix) {
    return absl::FailedPreconditionError(absl::StrCat(
        "PEFT prompt tuning only prepends virtual tokens before [CLS]; this "
        "prompt's placement is ",
        PromptSpecToJson(spec).value("placement", "?"),
        " (only placement prefix exports)"));
  }
  if (!spec.template_text.empty()) {
    return absl::FailedPreconditionError(
        "PEFT has no prompt templates; a prompt trained with a template "
        "does not export");
  }
  if (spec.case_embeddings) {
    return absl::FailedPreconditionError(
        "PEFT has no case embeddings; a prompt trained with case_embeddings "
        "does not export (tagging prompts have them by default): train a version "
        "with spec.case_embeddings = false (ptune train --case_embeddings=false) "
        "to export it");
  }
  const backbone::BertConfig& c = backbone.config();
  at::Tensor prompt, weight, bias;
  for (const auto& [name, tensor] : model.NamedParameters()) {
    if (name == "head.weight") weight = tensor;
    if (name == "head.bias") bias = tensor;
  }
  RETURN_IF_ERROR(common::TorchCall("exporting a prompt", [&] {
    torch::NoGradGuard no_grad;
    const at::Tensor p = model.PromptTensor().to(at::kCPU, at::kFloat);
    prompt = spec.kind == PromptKind::kDeep ? DeepToPeft(p) : p;
  }));
  const int64_t width = spec.kind == PromptKind::kDeep
                            ? c.num_hidden_layers * 2 * c.hidden_size
                            : c.hidden_size;
  if (prompt.sizes().vec() != std::vector<int64_t>{spec.length, width} ||
      !weight.defined() || !bias.defined() || weight.size(1) != c.hidden_size) {
    return absl::FailedPreconditionError(
        absl::StrCat("this prompt was not made for the backbone \"",
                     backbone.name(), "\" (hidden size ", c.hidden_size, ", ",
                     c.num_hidden_layers, " layers)"));
  }

  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", dir, ": ", error.message()));
  }
  safetensors::SafetensorsWriter writer;
  writer.SetMetadata("format", "pt");  // as PEFT's save_pretrained writes
  RETURN_IF_ERROR(backbone::AddTensor(writer, kPromptKey, prompt));
  RETURN_IF_ERROR(backbone::AddTensor(writer, kHeadWeightKey, weight));
  RETURN_IF_ERROR(backbone::AddTensor(writer, kHeadBiasKey, bias));

  const json sidecar = {
      {"format", kSidecarFormat},
      {"task", model.task() == datasets::Task::kTag ? "tag" : "classify"},
      {"labels", model.labels()},
      {"spec", PromptSpecToJson(spec)},
      {"backbone",
       {{"name", backbone.name()}, {"checksum", backbone.weights_checksum()}}},
      {"readout", Readout(model)},
  };
  RETURN_IF_ERROR(
      common::WriteFileAtomically(dir + "/" + kSidecarFile, sidecar.dump(2) + "\n"));
  RETURN_IF_ERROR(writer.WriteFile(dir + "/" + kWeightsFile));
  return common::WriteFileAtomically(
      dir + "/" + kConfigFile,
      AdapterConfig(model, backbone, options).dump(2) + "\n");
}

absl::StatusOr<std::unique_ptr<PromptModel>> ImportPeftAdapter(
    const backbone::Backbone& backbone, const std::string& dir,
    std::vector<std::string> labels, const PeftImportOptions& options) {
  const std::string config_path = dir + "/" + kConfigFile;
  ASSIGN_OR_RETURN(const json config, ReadJsonObject(config_path));
  const backbone::BertConfig& c = backbone.config();

  const std::string peft_type = StringField(config, "peft_type");
  PromptSpec spec;
  if (peft_type == "PROMPT_TUNING" || peft_type == "P_TUNING") {
    spec.kind = PromptKind::kShallow;  // P_TUNING saves the encoder's output
  } else if (peft_type == "PREFIX_TUNING") {
    spec.kind = PromptKind::kDeep;  // saved after any prefix projection
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        config_path, ": unsupported peft_type \"", peft_type,
        "\" (ptune imports PROMPT_TUNING, P_TUNING and PREFIX_TUNING)"));
  }
  const std::string task_type = StringField(config, "task_type");
  if (task_type != "TOKEN_CLS" && task_type != "SEQ_CLS") {
    return absl::InvalidArgumentError(
        absl::StrCat(config_path, ": unsupported task_type \"", task_type,
                     "\" (ptune imports TOKEN_CLS and SEQ_CLS)"));
  }
  const bool seq_cls = task_type == "SEQ_CLS";
  if (seq_cls && !options.seq_cls_prompt_only) {
    return absl::FailedPreconditionError(absl::StrCat(
        config_path,
        ": a SEQ_CLS classifier reads BERT's pooler (dense + tanh "
        "over the first position), which ptune's linear head over the [CLS] "
        "text state cannot reproduce; import the prompt alone "
        "(seq_cls_prompt_only) and train a head"));
  }
  ASSIGN_OR_RETURN(const int64_t m, IntField(config, "num_virtual_tokens",
                                             std::nullopt, config_path));
  ASSIGN_OR_RETURN(const int64_t token_dim,
                   IntField(config, "token_dim", std::nullopt, config_path));
  ASSIGN_OR_RETURN(
      const int64_t layers,
      IntField(config, "num_layers", c.num_hidden_layers, config_path));
  ASSIGN_OR_RETURN(const int64_t heads,
                   IntField(config, "num_attention_heads",
                            c.num_attention_heads, config_path));
  ASSIGN_OR_RETURN(
      const int64_t submodules,
      IntField(config, "num_transformer_submodules", 1, config_path));
  if (submodules != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        config_path, ": num_transformer_submodules is ", submodules,
        " (an encoder-decoder adapter); ptune's backbone is an encoder"));
  }
  if (token_dim != c.hidden_size || layers != c.num_hidden_layers ||
      heads != c.num_attention_heads) {
    return absl::FailedPreconditionError(absl::StrCat(
        config_path, ": adapter made for a backbone with token_dim ", token_dim,
        ", ", layers, " layers, ", heads, " heads; the loaded \"",
        backbone.name(), "\" has ", c.hidden_size, ", ", c.num_hidden_layers,
        ", ", c.num_attention_heads));
  }
  if (m <= 0 || m >= c.max_position_embeddings) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_path, ": num_virtual_tokens ", m,
                     " is out of range [1, ", c.max_position_embeddings, ")"));
  }
  spec.length = static_cast<int>(m);

  // ptune's own exports carry task, labels and spec in a sidecar.
  datasets::Task task =
      seq_cls ? datasets::Task::kClassify : datasets::Task::kTag;
  std::vector<std::string> sidecar_labels;
  const std::string sidecar_path = dir + "/" + kSidecarFile;
  std::error_code error;
  if (std::filesystem::exists(sidecar_path, error)) {
    ASSIGN_OR_RETURN(const json sidecar, ReadJsonObject(sidecar_path));
    if (StringField(sidecar, "format") != kSidecarFormat) {
      return absl::InvalidArgumentError(
          absl::StrCat(sidecar_path, ": format is not ", kSidecarFormat));
    }
    const json identity = sidecar.value("backbone", json::object());
    if (!identity.is_object() ||
        StringField(identity, "checksum") != backbone.weights_checksum()) {
      return absl::FailedPreconditionError(absl::StrCat(
          sidecar_path, ": exported from backbone \"",
          identity.is_object() ? StringField(identity, "name") : "?",
          "\", not the loaded \"", backbone.name(), "\" (",
          backbone.weights_checksum(), ")"));
    }
    ASSIGN_OR_RETURN(PromptSpec saved,
                     PromptSpecFromJson(sidecar.value("spec", json())));
    if (saved.kind != spec.kind || saved.length != spec.length) {
      return absl::InvalidArgumentError(absl::StrCat(
          sidecar_path, ": its spec does not match ", config_path));
    }
    spec = saved;
    const std::string saved_task = StringField(sidecar, "task");
    if (saved_task != "tag" && saved_task != "classify") {
      return absl::InvalidArgumentError(
          absl::StrCat(sidecar_path, ": unknown task"));
    }
    if (!seq_cls) {
      task = saved_task == "tag" ? datasets::Task::kTag
                                 : datasets::Task::kClassify;
    }
    const json saved_labels = sidecar.value("labels", json::array());
    if (!saved_labels.is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat(sidecar_path, ": labels must be a list"));
    }
    for (const json& label : saved_labels) {
      if (!label.is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(sidecar_path, ": labels must be strings"));
      }
      sidecar_labels.push_back(label.get<std::string>());
    }
  }

  const std::string weights_path = dir + "/" + kWeightsFile;
  ASSIGN_OR_RETURN(auto file, safetensors::SafetensorsFile::Open(weights_path));
  const int64_t width = spec.kind == PromptKind::kDeep
                            ? c.num_hidden_layers * 2 * c.hidden_size
                            : c.hidden_size;
  if (!file->Get(kPromptKey).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(weights_path, ": no \"", kPromptKey, "\" tensor"));
  }
  ASSIGN_OR_RETURN(at::Tensor rows,
                   backbone::ReadTensor(*file, kPromptKey, {m, width}));

  at::Tensor weight, bias;
  const bool has_head =
      file->Get(kHeadWeightKey).ok() && file->Get(kHeadBiasKey).ok();
  if (has_head) {
    ASSIGN_OR_RETURN(weight, backbone::ReadTensor(*file, kHeadWeightKey));
    ASSIGN_OR_RETURN(bias, backbone::ReadTensor(*file, kHeadBiasKey));
    if (weight.dim() != 2 || weight.size(1) != c.hidden_size ||
        bias.dim() != 1 || bias.size(0) != weight.size(0) ||
        weight.size(0) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(weights_path, ": the classifier must be [C, ",
                       c.hidden_size, "] and [C]"));
    }
  } else if (!seq_cls) {
    return absl::InvalidArgumentError(
        absl::StrCat(weights_path, ": no classifier head (\"", kHeadWeightKey,
                     "\", \"", kHeadBiasKey, "\")"));
  }
  if (labels.empty()) labels = std::move(sidecar_labels);
  if (labels.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir, ": PEFT adapters store no label names; pass the ",
        has_head ? absl::StrCat(weight.size(0), " ") : "", "labels"));
  }
  if (has_head && static_cast<int64_t>(labels.size()) != weight.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": ", labels.size(),
                                                   " labels for a head with ",
                                                   weight.size(0), " outputs"));
  }
  if (seq_cls) {  // prompt only: a zero head, see PeftImportOptions
    const int64_t num_labels = static_cast<int64_t>(labels.size());
    weight = torch::zeros({num_labels, c.hidden_size});
    bias = torch::zeros({num_labels});
  }
  at::Tensor prompt = rows;
  if (spec.kind == PromptKind::kDeep) {
    ASSIGN_OR_RETURN(prompt, common::TorchCall("importing a prefix", [&] {
                       return PeftToDeep(rows, c.num_hidden_layers,
                                         c.hidden_size);
                     }));
  }
  return PromptModel::FromTensors(backbone, task, std::move(labels), spec,
                                  prompt, weight, bias);
}

}  // namespace ptune::prompts

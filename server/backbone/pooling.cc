#include "server/backbone/pooling.h"

#include <filesystem>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/files.h"
#include "server/common/status_macros.h"

namespace ptune::backbone {
namespace {

using nlohmann::json;

absl::StatusOr<json> ReadJson(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, common::ReadFile(path));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": invalid JSON"));
  }
  return j;
}

absl::StatusOr<PoolingMode> ModeFromPoolingConfig(const json& j,
                                                  const std::string& path) {
  struct Flag {
    const char* key;
    PoolingMode mode;
    bool supported;
  };
  const Flag flags[] = {
      {"pooling_mode_cls_token", PoolingMode::kCls, true},
      {"pooling_mode_mean_tokens", PoolingMode::kMean, true},
      {"pooling_mode_max_tokens", PoolingMode::kMax, true},
      {"pooling_mode_mean_sqrt_len_tokens", PoolingMode::kMeanSqrtLen, true},
      {"pooling_mode_weightedmean_tokens", PoolingMode::kMean, false},
      {"pooling_mode_lasttoken", PoolingMode::kMean, false},
  };
  int count = 0;
  PoolingMode mode = PoolingMode::kMean;
  for (const Flag& f : flags) {
    auto it = j.find(f.key);
    if (it == j.end() || !it->is_boolean() || !it->get<bool>()) continue;
    if (!f.supported) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", f.key, " is not supported"));
    }
    mode = f.mode;
    ++count;
  }
  if (count != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": exactly one pooling mode must be enabled, found ", count));
  }
  return mode;
}

}  // namespace

at::Tensor Pool(const at::Tensor& states, const at::Tensor& mask,
                PoolingMode mode) {
  const at::Tensor m = mask.to(states.scalar_type()).unsqueeze(-1);
  switch (mode) {
    case PoolingMode::kCls:
      return states.select(1, 0);
    case PoolingMode::kMax:
      // sentence-transformers fills padding with -1e9 before the max.
      return states.masked_fill(m == 0, -1e9).amax(1);
    case PoolingMode::kMean:
    case PoolingMode::kMeanSqrtLen: {
      const at::Tensor sum = (states * m).sum(1);
      const at::Tensor count = m.sum(1).clamp_min(1e-9);
      return mode == PoolingMode::kMean ? sum / count : sum / count.sqrt();
    }
  }
  return states.select(1, 0);
}

absl::StatusOr<SentencePipeline> LoadSentencePipeline(const std::string& dir) {
  namespace fs = std::filesystem;
  SentencePipeline pipeline;
  const std::string modules_path = dir + "/modules.json";
  if (!fs::exists(modules_path)) return pipeline;
  pipeline.from_folder = true;
  ASSIGN_OR_RETURN(const json modules, ReadJson(modules_path));
  if (!modules.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(modules_path, ": expected a list of modules"));
  }
  bool has_pooling = false;
  for (const json& module : modules) {
    if (!module.is_object() || !module.value("type", json()).is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(
          modules_path, ": every module needs a string \"type\""));
    }
    const std::string type = module.value("type", "");
    const json path_field = module.value("path", json(""));
    const std::string path =
        path_field.is_string() ? path_field.get<std::string>() : "";
    if (type == "sentence_transformers.models.Transformer") {
      const std::string config_path =
          dir + "/" + (path.empty() ? "" : path + "/") +
          "sentence_bert_config.json";
      if (fs::exists(config_path)) {
        ASSIGN_OR_RETURN(const json config, ReadJson(config_path));
        if (auto it = config.find("max_seq_length");
            it != config.end() && it->is_number_integer()) {
          pipeline.max_seq_length = it->get<int>();
        }
        if (auto it = config.find("do_lower_case");
            it != config.end() && it->is_boolean()) {
          pipeline.lowercase = it->get<bool>();
        }
      }
    } else if (type == "sentence_transformers.models.Pooling") {
      const std::string config_path = dir + "/" + path + "/config.json";
      ASSIGN_OR_RETURN(const json config, ReadJson(config_path));
      ASSIGN_OR_RETURN(pipeline.pooling,
                       ModeFromPoolingConfig(config, config_path));
      has_pooling = true;
    } else if (type == "sentence_transformers.models.Normalize") {
      pipeline.normalize = true;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          modules_path, ": module type \"", type, "\" is not supported"));
    }
  }
  if (!has_pooling) {
    return absl::InvalidArgumentError(
        absl::StrCat(modules_path, ": no Pooling module"));
  }
  return pipeline;
}

}  // namespace ptune::backbone

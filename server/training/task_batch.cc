#include "server/training/task_batch.h"

#include <algorithm>
#include <unordered_map>

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"
#include "server/device/device_copy.h"
#include "server/training/bio.h"

namespace ptune::training {

std::vector<int32_t> FirstTokenOfEachWord(
    const std::vector<datasets::Span>& words,
    const std::vector<std::pair<int32_t, int32_t>>& offsets) {
  std::vector<int32_t> out(words.size(), -1);
  size_t token = 0;
  for (size_t w = 0; w < words.size(); ++w) {
    // Special tokens carry (0, 0) and are skipped by the empty-span test.
    while (token < offsets.size() &&
           (offsets[token].first < words[w].begin ||
            offsets[token].second <= offsets[token].first)) {
      ++token;
    }
    if (token < offsets.size() && offsets[token].first < words[w].end) {
      out[w] = static_cast<int32_t>(token);
    }
  }
  return out;
}

std::vector<std::vector<size_t>> LengthSortedBatches(const datasets::Dataset& data,
                                                     std::vector<size_t> indices,
                                                     int batch_size) {
  const auto length = [&](size_t i) { return data.text(i).size(); };
  std::stable_sort(indices.begin(), indices.end(),
                   [&](size_t a, size_t b) { return length(a) < length(b); });
  std::vector<std::vector<size_t>> batches;
  for (size_t i = 0; i < indices.size(); i += batch_size) {
    batches.emplace_back(indices.begin() + i,
                         indices.begin() + std::min(indices.size(), i + batch_size));
  }
  return batches;
}

std::vector<std::string> ModelLabels(const datasets::Dataset& data) {
  if (data.task == datasets::Task::kTag) return BioLabelSet(data.labels);
  return data.labels;
}

absl::StatusOr<TaskBatch> MakeTaskBatch(const backbone::Backbone& backbone,
                                        const prompts::PromptModel& model,
                                        const datasets::Dataset& data,
                                        const std::vector<size_t>& indices,
                                        int max_tokens) {
  std::unordered_map<std::string, int64_t> label_index;
  for (size_t i = 0; i < model.labels().size(); ++i) {
    label_index[model.labels()[i]] = static_cast<int64_t>(i);
  }
  const auto lookup = [&](const std::string& label) -> absl::StatusOr<int64_t> {
    auto it = label_index.find(label);
    if (it == label_index.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "label \"", label, "\" is not one the prompt was created with"));
    }
    return it->second;
  };
  const bool tagging = data.task == datasets::Task::kTag;
  std::vector<std::string> texts;
  texts.reserve(indices.size());
  for (size_t i : indices) texts.push_back(data.text(i));
  TaskBatch batch;
  ASSIGN_OR_RETURN(batch.tokens, model.Tokenize(backbone, texts, max_tokens));
  const int64_t b = static_cast<int64_t>(indices.size());
  const int64_t t = batch.tokens.input_ids.size(1);
  std::vector<int64_t> targets;
  if (!tagging) {
    for (size_t i : indices) {
      ASSIGN_OR_RETURN(const int64_t label, lookup(data.classification[i].label));
      targets.push_back(label);
    }
  } else {
    targets.assign(b * t, kIgnoreIndex);
    for (int64_t r = 0; r < b; ++r) {
      const datasets::TaggingExample& ex = data.tagging[indices[r]];
      batch.word_tokens.push_back(
          FirstTokenOfEachWord(ex.words, batch.tokens.encodings[r].offsets));
      for (size_t w = 0; w < ex.words.size(); ++w) {
        const int32_t token = batch.word_tokens.back()[w];
        if (token < 0) continue;
        ASSIGN_OR_RETURN(targets[r * t + token], lookup(ex.tags[w]));
      }
    }
  }
  batch.scored_targets = static_cast<int64_t>(
      std::count_if(targets.begin(), targets.end(),
                    [](int64_t target) { return target != kIgnoreIndex; }));
  RETURN_IF_ERROR(common::TorchCall("targets", [&] {
    batch.targets = tagging ? device::ToDevice(targets, backbone.device(), {b, t})
                            : device::ToDevice(targets, backbone.device());
  }));
  return batch;
}

}  // namespace ptune::training

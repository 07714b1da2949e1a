// tokenize and embed: one JSON line out per UTF-8 line in; word-states: one
// per sentence of a tagging file.
#include <iostream>
#include <string>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/backbone/encoder_io.h"
#include "server/common/torch_call.h"
#include "server/datasets/dataset.h"
#include "server/training/task_batch.h"
#include "server/common/status_macros.h"
#include "server/inspect/commands.h"
#include "server/inspect/flags.h"
#include "server/text/tokenizer.h"

namespace ptune::inspect {
namespace {

// Reads stdin lines; a line that is not valid UTF-8 stops the command with
// an error naming the line (the tokenizer checks the bytes).
template <typename Fn>
absl::Status ForEachLine(Fn&& fn) {
  std::string line;
  for (int number = 1; std::getline(std::cin, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const absl::Status status = fn(line);
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("stdin line ", number, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<backbone::Backbone>> LoadBackboneFromFlags() {
  const std::string dir = absl::GetFlag(FLAGS_backbone);
  if (dir.empty()) return absl::InvalidArgumentError("--backbone is required");
  return backbone::Backbone::Create(
      {.dir = dir,
       .device = absl::GetFlag(FLAGS_device),
       .dtype = absl::GetFlag(FLAGS_dtype),
       .attention = absl::GetFlag(FLAGS_attention)});
}

absl::Status RunTokenize() {
  const std::string dir = absl::GetFlag(FLAGS_backbone);
  if (dir.empty()) return absl::InvalidArgumentError("--backbone is required");
  // Only the tokenizer is needed: no weights are read.
  ASSIGN_OR_RETURN(auto tokenizer, text::Tokenizer::FromDirectory(dir));
  const int max_tokens = absl::GetFlag(FLAGS_max_tokens);
  return ForEachLine([&](const std::string& line) -> absl::Status {
    ASSIGN_OR_RETURN(text::Encoding enc, tokenizer->Encode(line, max_tokens));
    nlohmann::json out;
    out["ids"] = enc.ids;
    out["offsets"] = nlohmann::json::array();
    for (const auto& [begin, end] : enc.offsets) {
      out["offsets"].push_back({begin, end});
    }
    std::cout << out.dump() << "\n";
    return absl::OkStatus();
  });
}

absl::Status RunEmbed() {
  ASSIGN_OR_RETURN(const backbone::EmbedPooling pooling,
                   backbone::ParseEmbedPooling(absl::GetFlag(FLAGS_pooling)));
  ASSIGN_OR_RETURN(auto model, LoadBackboneFromFlags());
  return ForEachLine([&](const std::string& line) -> absl::Status {
    ASSIGN_OR_RETURN(at::Tensor embedding, model->Embed({line}, pooling));
    const at::Tensor row = embedding[0].contiguous();
    const float* data = row.data_ptr<float>();
    nlohmann::json out;
    out["embedding"] = std::vector<float>(data, data + row.numel());
    std::cout << out.dump() << "\n";
    return absl::OkStatus();
  });
}

absl::Status RunWordStates() {
  const std::string path = absl::GetFlag(FLAGS_data);
  if (path.empty()) return absl::InvalidArgumentError("--data is required");
  ASSIGN_OR_RETURN(const datasets::Dataset data,
                   datasets::ReadDataset(path, datasets::Task::kTag));
  ASSIGN_OR_RETURN(auto model, LoadBackboneFromFlags());
  for (const datasets::TaggingExample& example : data.tagging) {
    ASSIGN_OR_RETURN(const backbone::TokenBatch batch,
                     model->Tokenize({example.text}, absl::GetFlag(FLAGS_max_tokens)));
    const std::vector<int32_t> first =
        training::FirstTokenOfEachWord(example.words, batch.encodings[0].offsets);
    ASSIGN_OR_RETURN(const at::Tensor states,
                     common::TorchCall("word states", [&]() -> absl::StatusOr<at::Tensor> {
                       c10::InferenceMode inference;
                       backbone::EncoderInput input;
                       input.input_ids = batch.input_ids;
                       input.attention_mask = batch.attention_mask;
                       input.row_lengths = batch.row_lengths;
                       ASSIGN_OR_RETURN(const backbone::EncoderOutput out, model->Forward(input));
                       return out.TextStates()[0].to(at::kCPU, at::kFloat).contiguous();
                     }));
    // Five significant digits: plenty for a linear model, a third of the
    // bytes of full precision.
    std::string line = "{\"tags\":";
    line += nlohmann::json(example.tags).dump();
    line += ",\"states\":[";
    for (size_t w = 0; w < first.size(); ++w) {
      if (w > 0) line += ',';
      if (first[w] < 0) {
        line += "null";
        continue;
      }
      const float* row = states[first[w]].data_ptr<float>();
      line += '[';
      for (int64_t h = 0; h < states.size(1); ++h) {
        if (h > 0) line += ',';
        absl::StrAppendFormat(&line, "%.5g", row[h]);
      }
      line += ']';
    }
    line += "]}\n";
    std::cout << line;
  }
  return absl::OkStatus();
}

}  // namespace ptune::inspect

// ptune train: builds a TrainPromptRequest from flags and files, submits it
// and optionally watches the job.
#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_join.h"
#include "client/commands.h"
#include "client/formatters.h"
#include "client/training_data.h"
#include "server/common/status_macros.h"

namespace ptune::client {
namespace {

// The enum value named by flag `name`, `fallback` when the flag is absent.
template <typename Enum>
absl::StatusOr<Enum> EnumFlag(const ParsedArgs& args, const std::string& name,
                              const std::map<std::string, Enum>& values,
                              Enum fallback) {
  if (!args.Has(name)) return fallback;
  const std::string value = args.GetString(name);
  auto it = values.find(value);
  if (it != values.end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [key, unused] : values) names.push_back(key);
  return absl::InvalidArgumentError(absl::StrCat("--", name, ": \"", value,
                                                 "\" is not one of ",
                                                 absl::StrJoin(names, ", ")));
}

absl::StatusOr<int32_t> Int32Flag(const ParsedArgs& args,
                                  const std::string& name) {
  ASSIGN_OR_RETURN(int64_t value, args.GetInt(name, 0));
  if (value < INT32_MIN || value > INT32_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " out of range"));
  }
  return static_cast<int32_t>(value);
}

// Optional data of a request: --PART FILE (read for `task`) or --PART_dataset
// ID, at most one; neither gives an empty result.
struct OptionalData {
  std::optional<v1::ExampleSet> examples;
  std::string dataset_id;
};
absl::StatusOr<OptionalData> ReadOptionalData(const ParsedArgs& args, const std::string& part,
                                              v1::Task task) {
  const std::string dataset_flag = part + "_dataset";
  if (args.Has(part) && args.Has(dataset_flag)) {
    return absl::InvalidArgumentError(absl::StrCat("give at most one of --", part, " FILE and --",
                                                   dataset_flag, " ID"));
  }
  OptionalData data;
  if (args.Has(part)) {
    ASSIGN_OR_RETURN(data.examples, ReadExampleSet(args.GetString(part), task));
  } else if (args.Has(dataset_flag)) {
    data.dataset_id = args.GetString(dataset_flag);
  }
  return data;
}

absl::Status FillSpec(const ParsedArgs& args, v1::PromptSpec* spec) {
  ASSIGN_OR_RETURN(
      v1::PromptKind kind,
      EnumFlag<v1::PromptKind>(args, "kind",
                               {{"deep", v1::PROMPT_KIND_DEEP},
                                {"shallow", v1::PROMPT_KIND_SHALLOW}},
                               v1::PROMPT_KIND_UNSPECIFIED));
  spec->set_kind(kind);
  ASSIGN_OR_RETURN(int32_t length, Int32Flag(args, "length"));
  spec->set_length(length);
  ASSIGN_OR_RETURN(std::vector<int64_t> lengths, args.GetIntList("lengths"));
  for (int64_t l : lengths)
    spec->add_length_candidates(static_cast<int32_t>(l));
  ASSIGN_OR_RETURN(
      v1::Placement placement,
      EnumFlag<v1::Placement>(args, "placement",
                              {{"prefix", v1::PLACEMENT_PREFIX},
                               {"infix", v1::PLACEMENT_INFIX},
                               {"prefix_infix", v1::PLACEMENT_PREFIX_INFIX}},
                              v1::PLACEMENT_UNSPECIFIED));
  spec->set_placement(placement);
  ASSIGN_OR_RETURN(int32_t infix_position, Int32Flag(args, "infix_position"));
  spec->set_infix_position(infix_position);
  ASSIGN_OR_RETURN(
      v1::Reparameterization reparam,
      EnumFlag<v1::Reparameterization>(args, "reparam",
                                       {{"none", v1::REPARAMETERIZATION_NONE},
                                        {"mlp", v1::REPARAMETERIZATION_MLP}},
                                       v1::REPARAMETERIZATION_UNSPECIFIED));
  spec->set_reparameterization(reparam);
  ASSIGN_OR_RETURN(int32_t mlp_hidden, Int32Flag(args, "mlp_hidden"));
  spec->set_mlp_hidden(mlp_hidden);
  // --init_text / --init_prompt alone imply their init mode.
  v1::PromptInit implied_init = v1::PROMPT_INIT_UNSPECIFIED;
  if (args.Has("init_prompt")) implied_init = v1::PROMPT_INIT_PROMPT;
  if (args.Has("init_text")) implied_init = v1::PROMPT_INIT_TEXT;
  ASSIGN_OR_RETURN(
      v1::PromptInit init,
      EnumFlag<v1::PromptInit>(args, "init",
                               {{"random", v1::PROMPT_INIT_RANDOM},
                                {"vocab", v1::PROMPT_INIT_VOCAB},
                                {"text", v1::PROMPT_INIT_TEXT},
                                {"prompt", v1::PROMPT_INIT_PROMPT}},
                               implied_init));
  spec->set_init(init);
  spec->set_init_text(args.GetString("init_text"));
  spec->set_init_prompt(args.GetString("init_prompt"));
  ASSIGN_OR_RETURN(double l2, args.GetDouble("l2", 0.0));
  spec->set_l2(l2);
  ASSIGN_OR_RETURN(double dropout, args.GetDouble("dropout", 0.0));
  spec->set_dropout(dropout);
  ASSIGN_OR_RETURN(v1::Pooling pooling,
                   EnumFlag<v1::Pooling>(args, "pooling",
                                         {{"cls", v1::POOLING_CLS},
                                          {"mean", v1::POOLING_MEAN},
                                          {"mask", v1::POOLING_MASK}},
                                         v1::POOLING_UNSPECIFIED));
  spec->set_pooling(pooling);
  spec->set_template_text(args.GetString("template"));
  if (args.Has("templates")) {
    for (absl::string_view text : absl::StrSplit(args.GetString("templates"), '|')) {
      spec->add_template_candidates(std::string(text));
    }
  }
  if (args.Has("verbalizers")) {
    for (absl::string_view words : absl::StrSplit(args.GetString("verbalizers"), '|')) {
      v1::Verbalizer* verbalizer = spec->add_verbalizer_candidates();
      for (absl::string_view word : absl::StrSplit(words, ',')) {
        verbalizer->add_words(std::string(word));
      }
    }
  }
  for (const std::string& word : args.GetList("verbalizer")) {
    spec->add_verbalizer(word);
  }
  if (args.Has("case_embeddings")) {
    spec->set_case_embeddings(args.GetBool("case_embeddings"));
  }
  return absl::OkStatus();
}

absl::Status FillOptions(const ParsedArgs& args, v1::TrainingOptions* options) {
  ASSIGN_OR_RETURN(int32_t epochs, Int32Flag(args, "epochs"));
  options->set_epochs(epochs);
  ASSIGN_OR_RETURN(int32_t batch_size, Int32Flag(args, "batch_size"));
  options->set_batch_size(batch_size);
  ASSIGN_OR_RETURN(double lr, args.GetDouble("lr", 0.0));
  options->set_learning_rate(lr);
  ASSIGN_OR_RETURN(double reparam_lr, args.GetDouble("reparam_lr", 0.0));
  options->set_reparam_learning_rate(reparam_lr);
  ASSIGN_OR_RETURN(int32_t max_tokens, Int32Flag(args, "max_tokens"));
  options->set_max_tokens(max_tokens);
  ASSIGN_OR_RETURN(int32_t patience, Int32Flag(args, "patience"));
  options->set_patience(patience);
  ASSIGN_OR_RETURN(int32_t search_epochs, Int32Flag(args, "search_epochs"));
  options->set_search_epochs(search_epochs);
  ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 0));
  if (seed < 0) return absl::InvalidArgumentError("--seed must be >= 0");
  options->set_seed(static_cast<uint64_t>(seed));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::TrainPromptRequest> BuildTrainRequest(
    const ParsedArgs& args) {
  if (!args.positional.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", args.positional[0],
                     "\" (train takes only flags)"));
  }
  v1::TrainPromptRequest request;
  if (args.GetString("name").empty()) {
    return absl::InvalidArgumentError("--name is required");
  }
  request.set_prompt_name(args.GetString("name"));
  // With --train_dataset alone the dataset's task is used (RunTrain asks
  // the server); files need --task to be read.
  v1::Task task = v1::TASK_UNSPECIFIED;
  if (args.Has("task")) {
    ASSIGN_OR_RETURN(task, ParseTask(args.GetString("task")));
  } else if (!args.Has("train_dataset") || args.Has("valid") || args.Has("test")) {
    return absl::InvalidArgumentError(
        "--task is required (it may be left out with --train_dataset ID alone: the "
        "dataset's task is used)");
  }
  request.set_task(task);
  for (const std::string& label : args.GetList("labels")) {
    request.add_labels(label);
  }
  const bool has_train_file = args.Has("train");
  const bool has_train_dataset = args.Has("train_dataset");
  if (has_train_file == has_train_dataset) {
    return absl::InvalidArgumentError(
        "give exactly one of --train FILE and --train_dataset ID");
  }
  if (has_train_file) {
    ASSIGN_OR_RETURN(*request.mutable_train_examples(),
                     ReadExampleSet(args.GetString("train"), task));
  } else {
    request.set_train_dataset_id(args.GetString("train_dataset"));
  }
  ASSIGN_OR_RETURN(OptionalData valid, ReadOptionalData(args, "valid", task));
  if (valid.examples.has_value()) {
    *request.mutable_valid_examples() = *std::move(valid.examples);
  } else if (!valid.dataset_id.empty()) {
    request.set_valid_dataset_id(valid.dataset_id);
  }
  ASSIGN_OR_RETURN(OptionalData test, ReadOptionalData(args, "test", task));
  if (test.examples.has_value()) {
    *request.mutable_test_examples() = *std::move(test.examples);
  } else if (!test.dataset_id.empty()) {
    request.set_test_dataset_id(test.dataset_id);
  }
  for (const std::string& id : args.GetList("aux_datasets")) {
    request.add_auxiliary_tasks()->set_dataset_id(id);
  }
  RETURN_IF_ERROR(FillSpec(args, request.mutable_spec()));
  RETURN_IF_ERROR(FillOptions(args, request.mutable_options()));
  return request;
}

absl::Status RunTrain(const ParsedArgs& args, const CommandContext& context) {
  ASSIGN_OR_RETURN(v1::TrainPromptRequest request, BuildTrainRequest(args));
  if (request.task() == v1::TASK_UNSPECIFIED) {
    ASSIGN_OR_RETURN(const v1::ListDatasetsResponse datasets, context.client->ListDatasets());
    for (const v1::Dataset& dataset : datasets.datasets()) {
      if (dataset.id() == request.train_dataset_id()) request.set_task(dataset.task());
    }
    if (request.task() == v1::TASK_UNSPECIFIED) {
      return absl::NotFoundError(
          absl::StrCat("--train_dataset ", request.train_dataset_id(),
                       ": no such dataset (ptune datasets list shows yours)"));
    }
  }
  ASSIGN_OR_RETURN(v1::TrainPromptResponse response,
                   context.client->TrainPrompt(request));
  if (context.json) {
    *context.out << ToJson(response);
  } else {
    *context.out << "job " << response.job().id() << " queued: prompt "
                 << response.job().prompt_name() << " v"
                 << response.job().prompt_version() << "\n";
  }
  if (!args.GetBool("wait")) return absl::OkStatus();
  return WatchToEnd(response.job().id(), context);
}

}  // namespace ptune::client

// train and eval: the offline entry points of prompt tuning. Progress goes to
// stderr; the final metrics are ONE JSON object on the last stdout line.
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "server/common/status_macros.h"
#include "server/datasets/split.h"
#include "server/prompts/peft_format.h"
#include "server/inspect/commands.h"
#include "server/inspect/flags.h"
#include "server/training/evaluator.h"
#include "server/training/prompt_search.h"
#include "server/training/task_batch.h"
#include "server/training/trainer.h"

// Defaults come from the measurements in tests/bench/README.md (SST-2,
// CoNLL-2003, WNUT-17): deep prompts beat shallow ones on this small
// backbone for both tasks.
ABSL_FLAG(std::string, task, "classify", "classify or tag.");
ABSL_FLAG(std::string, train, "", "Training data (TSV/CSV/JSONL/CoNLL).");
ABSL_FLAG(std::string, valid, "",
          "Validation data for early stopping and model selection; when "
          "empty, --valid_fraction of --train is held out (seeded).");
ABSL_FLAG(std::string, test, "", "Optional test data, scored once at the end.");
ABSL_FLAG(std::string, data, "", "eval: the labeled data to score; word-states: a tagging file.");
ABSL_FLAG(std::string, out, "",
          "train: folder for the prompt artifact; export-peft / import-peft: the "
          "folder to write; convert-weights: the safetensors file to write.");
ABSL_FLAG(double, valid_fraction, 0.1, "Held-out share when --valid is empty.");
ABSL_FLAG(int64_t, max_train_examples, 0,
          "Use only the first N training examples (0 = all): quick runs.");
ABSL_FLAG(std::string, kind, "deep",
          "shallow (input tokens; smallest, weakest) or deep (per-layer "
          "key/value prefixes; much stronger on small backbones).");
ABSL_FLAG(int, length, 16, "Prompt length m (virtual tokens / prefix length).");
ABSL_FLAG(std::string, lengths, "",
          "Comma-separated lengths to search (e.g. 1,5,10,20), as the "
          "service's length_candidates: each trains --search_epochs, the best "
          "on validation goes on to --epochs. Overrides --length.");
ABSL_FLAG(int, search_epochs, ptune::training::kDefaultSearchEpochs,
          "Epochs each --lengths candidate trains before the best is chosen.");
ABSL_FLAG(std::string, placement, "prefix", "Shallow: prefix, infix or prefix_infix.");
ABSL_FLAG(std::string, reparam, "none",
          "none or mlp (P = MLP(Z) during training; steadier on some tasks, "
          "slower per step).");
ABSL_FLAG(int, mlp_hidden, 256, "Hidden width of the reparameterization MLP.");
ABSL_FLAG(std::string, init, "",
          "random, vocab, text or prompt (default: vocab for shallow, random "
          "for deep).");
ABSL_FLAG(std::string, init_text, "", "Text whose token embeddings start the prompt.");
ABSL_FLAG(std::string, init_prompt, "", "Prompt artifact folder to start from.");
ABSL_FLAG(double, l2, 0.0, "λ of the λ‖P‖² regularizer.");
ABSL_FLAG(double, dropout, 0.0, "Prompt dropout probability (training only).");
ABSL_FLAG(std::optional<bool>, case_embeddings, std::nullopt,
          "true/false: learn a vector per word-case class (lower, Title, "
          "UPPER, mIxed) added to each text token's input embedding, giving "
          "an uncased backbone the capitalization it drops. Default: true "
          "for --task tag, false for classify. Not exportable to PEFT.");
ABSL_FLAG(std::string, head_pooling, "",
          "Classification head input: cls, mean (the default, as the "
          "service's), or mask (the template's [MASK] slot).");
ABSL_FLAG(std::string, template_text, "",
          "Template around the text, e.g. '<soft:4> {text} It was [MASK] .' "
          "(soft runs must add up to --length for shallow prompts).");
ABSL_FLAG(std::string, verbalizer, "",
          "Comma-separated label words, one per label in label order; the "
          "head's rows start from their embeddings (--head_pooling mask).");
ABSL_FLAG(int, epochs, 0,
          "Maximum epochs (early stopping may end sooner). 0: from the "
          "training set's size, as the service does (about 120,000 examples "
          "seen, 2..20 epochs: 9 for CoNLL-2003, 2 for SST-2).");
ABSL_FLAG(int, batch_size, ptune::training::TrainOptions{}.batch_size,
          "Training batch size.");
ABSL_FLAG(double, lr, ptune::training::TrainOptions{}.learning_rate,
          "Peak learning rate (AdamW, linear warmup and decay). 3e-2 beat 1e-2 "
          "and 3e-3 on both SST-2 and CoNLL-2003 (tests/bench/README.md); "
          "lower it if the loss diverges.");
ABSL_FLAG(double, reparam_lr, 0,
          "Peak learning rate of --reparam mlp (Z and its layers); 0 = --lr x 0.1.");
ABSL_FLAG(int, patience, ptune::training::TrainOptions{}.patience,
          "Epochs without validation gain before stopping.");
ABSL_FLAG(uint64_t, seed, ptune::training::TrainOptions{}.seed,
          "Seed for init, shuffling and dropout.");
ABSL_FLAG(std::string, labels, "",
          "import-peft: comma-separated label names in head order (PEFT "
          "stores none; not needed for adapters exported by ptune).");
ABSL_FLAG(std::string, checkpoint, "",
          "Checkpoint file written each epoch; training resumes from it.");

namespace ptune::inspect {
namespace {

absl::StatusOr<datasets::Task> TaskFromFlag() {
  const std::string task = absl::GetFlag(FLAGS_task);
  if (task == "classify") return datasets::Task::kClassify;
  if (task == "tag") return datasets::Task::kTag;
  return absl::InvalidArgumentError("--task must be classify or tag");
}

absl::StatusOr<prompts::PromptSpec> SpecFromFlags() {
  prompts::PromptSpec spec;
  ASSIGN_OR_RETURN(spec.kind, prompts::ParsePromptKind(absl::GetFlag(FLAGS_kind)));
  spec.length = absl::GetFlag(FLAGS_length);
  ASSIGN_OR_RETURN(spec.placement, prompts::ParsePlacement(absl::GetFlag(FLAGS_placement)));
  ASSIGN_OR_RETURN(spec.reparam, prompts::ParseReparam(absl::GetFlag(FLAGS_reparam)));
  spec.mlp_hidden = absl::GetFlag(FLAGS_mlp_hidden);
  std::string init = absl::GetFlag(FLAGS_init);
  if (init.empty()) init = spec.kind == prompts::PromptKind::kShallow ? "vocab" : "random";
  ASSIGN_OR_RETURN(spec.init, prompts::ParsePromptInit(init));
  spec.init_text = absl::GetFlag(FLAGS_init_text);
  spec.init_prompt = absl::GetFlag(FLAGS_init_prompt);
  spec.l2 = absl::GetFlag(FLAGS_l2);
  spec.dropout = absl::GetFlag(FLAGS_dropout);
  if (const std::string pooling = absl::GetFlag(FLAGS_head_pooling); !pooling.empty()) {
    ASSIGN_OR_RETURN(spec.pooling, prompts::ParseHeadPooling(pooling));
  }
  spec.template_text = absl::GetFlag(FLAGS_template_text);
  if (const std::string words = absl::GetFlag(FLAGS_verbalizer); !words.empty()) {
    spec.verbalizer = absl::StrSplit(words, ',');
  }
  return spec;
}

absl::StatusOr<std::vector<int>> LengthsFromFlags() {
  const std::string list = absl::GetFlag(FLAGS_lengths);
  if (list.empty()) return std::vector<int>{absl::GetFlag(FLAGS_length)};
  std::vector<int> lengths;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    int value;
    if (!absl::SimpleAtoi(part, &value)) {
      return absl::InvalidArgumentError(absl::StrCat("--lengths: \"", part, "\" is not a number"));
    }
    lengths.push_back(value);
  }
  return lengths;
}

void Truncate(datasets::Dataset& data, int64_t n) {
  if (n <= 0 || static_cast<size_t>(n) >= data.size()) return;
  data.classification.resize(std::min<size_t>(data.classification.size(), n));
  data.tagging.resize(std::min<size_t>(data.tagging.size(), n));
}

absl::StatusOr<datasets::Dataset> ReadRequired(const std::string& flag_name,
                                               const std::string& path,
                                               datasets::Task task) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag_name, " is required"));
  return datasets::ReadDataset(path, task);
}

void PrintMetrics(const nlohmann::json& metrics) {
  std::cout << metrics.dump() << std::endl;
}

}  // namespace

absl::Status RunTrain() {
  ASSIGN_OR_RETURN(const datasets::Task task, TaskFromFlag());
  ASSIGN_OR_RETURN(prompts::PromptSpec spec, SpecFromFlags());
  spec.case_embeddings = absl::GetFlag(FLAGS_case_embeddings)
                             .value_or(prompts::DefaultCaseEmbeddings(task));
  ASSIGN_OR_RETURN(const std::vector<int> lengths, LengthsFromFlags());
  const std::string out_dir = absl::GetFlag(FLAGS_out);
  if (out_dir.empty()) return absl::InvalidArgumentError("--out is required");
  ASSIGN_OR_RETURN(datasets::Dataset train, ReadRequired("train", absl::GetFlag(FLAGS_train), task));
  Truncate(train, absl::GetFlag(FLAGS_max_train_examples));
  datasets::Dataset valid;
  if (absl::GetFlag(FLAGS_valid).empty()) {
    ASSIGN_OR_RETURN(auto split, datasets::SplitDataset(train, absl::GetFlag(FLAGS_valid_fraction),
                                                        absl::GetFlag(FLAGS_seed)));
    train = std::move(split.first);
    valid = std::move(split.second);
  } else {
    ASSIGN_OR_RETURN(valid, datasets::ReadDataset(absl::GetFlag(FLAGS_valid), task));
  }
  // Labels seen only in validation still need an output of the head.
  for (const std::string& label : valid.labels) {
    if (std::find(train.labels.begin(), train.labels.end(), label) == train.labels.end()) {
      train.labels.push_back(label);
    }
  }
  ASSIGN_OR_RETURN(auto model_backbone, LoadBackboneFromFlags());

  const int search_epochs = absl::GetFlag(FLAGS_search_epochs);
  if (search_epochs < 1) return absl::InvalidArgumentError("--search_epochs must be at least 1");
  training::TrainOptions options;
  options.epochs = absl::GetFlag(FLAGS_epochs) > 0
                       ? absl::GetFlag(FLAGS_epochs)
                       : training::DefaultSearchJobEpochs(train.size(), search_epochs);
  if (search_epochs > options.epochs) {
    return absl::InvalidArgumentError(absl::StrCat("--search_epochs must be in 1..--epochs (",
                                                   options.epochs, "), got ", search_epochs));
  }
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  options.learning_rate = absl::GetFlag(FLAGS_lr);
  options.reparam_learning_rate = absl::GetFlag(FLAGS_reparam_lr);
  options.patience = absl::GetFlag(FLAGS_patience);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.checkpoint_path = absl::GetFlag(FLAGS_checkpoint);
  if (absl::GetFlag(FLAGS_max_tokens) > 0) {
    options.max_tokens = absl::GetFlag(FLAGS_max_tokens);
  } else {
    ASSIGN_OR_RETURN(options.max_tokens, training::DefaultMaxTokens(*model_backbone, train));
  }
  std::cerr << absl::StrFormat("train: %d examples, valid: %d, labels: %d, backbone %s\n",
                               train.size(), valid.size(), train.labels.size(),
                               model_backbone->name());
  const auto progress = [](const training::EpochReport& r) {
    std::cerr << absl::StrFormat(
        "epoch %d/%d step %d: loss %.4f, valid %.4f%s, %.1f examples/s, %.1f s\n",
        r.epoch, r.epochs, r.step, r.train_loss, r.valid_metric,
        r.improved ? " (best)" : "", r.examples_per_second, r.seconds);
  };
  const auto on_trial = [](const training::SearchTrial& t) {
    std::cerr << absl::StrFormat("length %d: best valid %.4f\n", t.spec.length,
                                 t.result.best_valid_metric);
  };
  std::vector<prompts::PromptSpec> candidates;
  for (int length : lengths) {
    candidates.push_back(spec);
    candidates.back().length = length;
  }
  ASSIGN_OR_RETURN(training::SearchResult search,
                   training::SearchPrompts(*model_backbone, candidates, train, valid, options,
                                           search_epochs, progress, on_trial));
  nlohmann::json meta;
  nlohmann::json trials = nlohmann::json::array();
  for (const training::SearchTrial& t : search.trials) {
    trials.push_back({{"length", t.spec.length}, {"valid", t.result.best_valid_metric},
                      {"best_epoch", t.result.best_epoch},
                      {"examples_per_second", t.result.examples_per_second}});
  }
  const double examples_per_second = search.final_result.examples_per_second;
  meta["length_search"] = trials;
  ASSIGN_OR_RETURN(const training::Evaluation valid_eval,
                   training::Evaluate(*model_backbone, *search.best, valid, 64, options.max_tokens));
  meta["metrics"]["valid"] = valid_eval.metrics;
  nlohmann::json final_metrics = valid_eval.metrics;
  if (!absl::GetFlag(FLAGS_test).empty()) {
    ASSIGN_OR_RETURN(const datasets::Dataset test,
                     datasets::ReadDataset(absl::GetFlag(FLAGS_test), task));
    ASSIGN_OR_RETURN(const training::Evaluation test_eval,
                     training::Evaluate(*model_backbone, *search.best, test, 64, options.max_tokens));
    meta["metrics"]["test"] = test_eval.metrics;
    final_metrics = test_eval.metrics;
  }
  meta["training"] = {{"examples_per_second", examples_per_second},
                      {"train_examples", train.size()}};
  RETURN_IF_ERROR(search.best->Save(out_dir, meta));
  std::cerr << "saved " << out_dir << " (length " << search.best->spec().length << ")\n";
  final_metrics["length"] = search.best->spec().length;
  final_metrics["train_examples_per_second"] = examples_per_second;
  PrintMetrics(final_metrics);
  return absl::OkStatus();
}

absl::Status RunEval() {
  const std::string dirs = absl::GetFlag(FLAGS_prompt);
  if (dirs.empty()) return absl::InvalidArgumentError("--prompt is required");
  ASSIGN_OR_RETURN(auto model_backbone, LoadBackboneFromFlags());
  // Several comma-separated folders form an ensemble (averaged probabilities).
  std::vector<std::unique_ptr<prompts::PromptModel>> models;
  std::vector<const prompts::PromptModel*> ensemble;
  for (absl::string_view dir : absl::StrSplit(dirs, ',')) {
    ASSIGN_OR_RETURN(auto model, prompts::PromptModel::Load(*model_backbone, std::string(dir)));
    ensemble.push_back(model.get());
    models.push_back(std::move(model));
  }
  ASSIGN_OR_RETURN(const datasets::Dataset data,
                   ReadRequired("data", absl::GetFlag(FLAGS_data), models[0]->task()));
  // As the service reads texts: as each prompt was trained, an ensemble's
  // members the shortest budget (or --max_tokens when given).
  int max_tokens = absl::GetFlag(FLAGS_max_tokens);
  if (max_tokens <= 0) {
    max_tokens = models[0]->ReadingMaxTokens();
    for (const auto& model : models) max_tokens = std::min(max_tokens, model->ReadingMaxTokens());
  }
  ASSIGN_OR_RETURN(const training::Evaluation eval,
                   training::Evaluate(*model_backbone, ensemble, data, 64, max_tokens));
  PrintMetrics(eval.metrics);
  return absl::OkStatus();
}

absl::Status RunExportPeft() {
  const std::string dir = absl::GetFlag(FLAGS_prompt);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (dir.empty() || out.empty()) {
    return absl::InvalidArgumentError("--prompt and --out are required");
  }
  ASSIGN_OR_RETURN(auto model_backbone, LoadBackboneFromFlags());
  ASSIGN_OR_RETURN(auto model, prompts::PromptModel::Load(*model_backbone, dir));
  RETURN_IF_ERROR(prompts::ExportPeftAdapter(*model, *model_backbone, out));
  std::cerr << "wrote PEFT adapter " << out << "\n";
  return absl::OkStatus();
}

absl::Status RunImportPeft() {
  const std::string dir = absl::GetFlag(FLAGS_prompt);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (dir.empty() || out.empty()) {
    return absl::InvalidArgumentError("--prompt (the adapter folder) and --out are required");
  }
  std::vector<std::string> labels;
  if (const std::string list = absl::GetFlag(FLAGS_labels); !list.empty()) {
    labels = absl::StrSplit(list, ',');
  }
  ASSIGN_OR_RETURN(auto model_backbone, LoadBackboneFromFlags());
  ASSIGN_OR_RETURN(auto model,
                   prompts::ImportPeftAdapter(*model_backbone, dir, std::move(labels)));
  RETURN_IF_ERROR(model->Save(out, {{"imported_from", dir}}));
  std::cerr << "wrote ptune prompt " << out << "\n";
  return absl::OkStatus();
}

}  // namespace ptune::inspect

#include "server/service/proto_convert.h"

#include <cmath>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/status_macros.h"
#include "server/training/prompt_search.h"

namespace ptune::service {
namespace {

using nlohmann::json;

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, " ", problem));
}

void Flatten(const json& value, const std::string& prefix,
             google::protobuf::Map<std::string, double>* out) {
  if (value.is_number()) {
    (*out)[prefix] = value.get<double>();
  } else if (value.is_boolean()) {  // e.g. early_stopped: 1 or 0
    (*out)[prefix] = value.get<bool>() ? 1.0 : 0.0;
  } else if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      Flatten(child, prefix.empty() ? key : absl::StrCat(prefix, ".", key), out);
    }
  }
}

}  // namespace

absl::StatusOr<datasets::Task> TaskFromProto(v1::Task task,
                                             absl::string_view field) {
  switch (task) {
    case v1::TASK_CLASSIFY: return datasets::Task::kClassify;
    case v1::TASK_TAG: return datasets::Task::kTag;
    default: return Invalid(field, "must be TASK_CLASSIFY or TASK_TAG");
  }
}

v1::Task TaskToProto(datasets::Task task) {
  return task == datasets::Task::kTag ? v1::TASK_TAG : v1::TASK_CLASSIFY;
}

v1::Task TaskNameToProto(absl::string_view task) {
  if (task == "tag") return v1::TASK_TAG;
  if (task == "classify") return v1::TASK_CLASSIFY;
  return v1::TASK_UNSPECIFIED;
}

absl::StatusOr<std::vector<int>> LengthCandidates(const v1::PromptSpec& spec) {
  std::vector<int> lengths(spec.length_candidates().begin(),
                           spec.length_candidates().end());
  if (lengths.size() > 8) {
    return Invalid("spec.length_candidates", "has more than 8 entries");
  }
  for (int length : lengths) {
    if (length < 1 || length > kMaxPromptLength) {
      return Invalid("spec.length_candidates",
                     absl::StrCat("entries must be in 1..", kMaxPromptLength,
                                  ", got ", length));
    }
  }
  return lengths;
}

absl::StatusOr<std::vector<prompts::PromptSpec>> SearchCandidates(
    const v1::PromptSpec& in, const prompts::PromptSpec& spec) {
  ASSIGN_OR_RETURN(std::vector<int> lengths, LengthCandidates(in));
  if (lengths.empty()) lengths.push_back(spec.length);
  std::vector<std::string> templates(in.template_candidates().begin(),
                                     in.template_candidates().end());
  for (const std::string& text : templates) {
    if (text.size() > 4096) {
      return Invalid("spec.template_candidates", "has an entry longer than 4096 bytes");
    }
  }
  if (templates.empty()) templates.push_back(spec.template_text);
  std::vector<std::vector<std::string>> verbalizers;
  for (const v1::Verbalizer& v : in.verbalizer_candidates()) {
    if (v.words().empty()) return Invalid("spec.verbalizer_candidates", "has an empty entry");
    verbalizers.emplace_back(v.words().begin(), v.words().end());
  }
  if (verbalizers.empty()) verbalizers.push_back(spec.verbalizer);
  const size_t count = lengths.size() * templates.size() * verbalizers.size();
  if (count > static_cast<size_t>(kMaxSearchCandidates)) {
    return Invalid("spec", absl::StrCat("has ", count,
                                        " search candidates (lengths x templates x "
                                        "verbalizers); at most ",
                                        kMaxSearchCandidates));
  }
  std::vector<prompts::PromptSpec> candidates;
  for (int length : lengths) {
    for (const std::string& text : templates) {
      for (const std::vector<std::string>& words : verbalizers) {
        prompts::PromptSpec& candidate = candidates.emplace_back(spec);
        candidate.length = length;
        candidate.template_text = text;
        candidate.verbalizer = words;
      }
    }
  }
  return candidates;
}

absl::StatusOr<int> SearchEpochs(const v1::TrainingOptions& in, int epochs) {
  // Unset epochs come from the data (at least search_epochs): only the
  // proto's own bound applies then.
  if (in.epochs() == 0) epochs = kMaxEpochs;
  if (in.search_epochs() < 0 || in.search_epochs() > epochs) {
    return Invalid("options.search_epochs",
                   absl::StrCat("must be in 1..epochs (", epochs, "), got ", in.search_epochs()));
  }
  return in.search_epochs() > 0 ? in.search_epochs() : training::kDefaultSearchEpochs;
}

absl::StatusOr<prompts::PromptSpec> SpecFromProto(const v1::PromptSpec& in) {
  prompts::PromptSpec spec;
  switch (in.kind()) {
    case v1::PROMPT_KIND_UNSPECIFIED:
    case v1::PROMPT_KIND_DEEP: spec.kind = prompts::PromptKind::kDeep; break;
    case v1::PROMPT_KIND_SHALLOW: spec.kind = prompts::PromptKind::kShallow; break;
    default: return Invalid("spec.kind", "is not a known PromptKind");
  }
  if (in.length() < 0 || in.length() > kMaxPromptLength) {
    return Invalid("spec.length", absl::StrCat("must be in 1..", kMaxPromptLength,
                                               ", got ", in.length()));
  }
  if (in.length() > 0) spec.length = in.length();
  absl::StatusOr<std::vector<int>> candidates = LengthCandidates(in);
  if (!candidates.ok()) return candidates.status();
  if (!candidates->empty()) spec.length = candidates->front();
  switch (in.placement()) {
    case v1::PLACEMENT_UNSPECIFIED:
    case v1::PLACEMENT_PREFIX: spec.placement = prompts::Placement::kPrefix; break;
    case v1::PLACEMENT_INFIX: spec.placement = prompts::Placement::kInfix; break;
    case v1::PLACEMENT_PREFIX_INFIX:
      spec.placement = prompts::Placement::kPrefixInfix;
      break;
    default: return Invalid("spec.placement", "is not a known Placement");
  }
  if (in.infix_position() < 0) return Invalid("spec.infix_position", "must be >= 0");
  if (in.infix_position() > 0) spec.infix_position = in.infix_position();
  switch (in.reparameterization()) {
    case v1::REPARAMETERIZATION_UNSPECIFIED:
    case v1::REPARAMETERIZATION_NONE: spec.reparam = prompts::Reparam::kNone; break;
    case v1::REPARAMETERIZATION_MLP: spec.reparam = prompts::Reparam::kMlp; break;
    default: return Invalid("spec.reparameterization", "is not known");
  }
  if (in.mlp_hidden() < 0 || in.mlp_hidden() > 4096) {
    return Invalid("spec.mlp_hidden", "must be in 1..4096");
  }
  if (in.mlp_hidden() > 0) spec.mlp_hidden = in.mlp_hidden();
  switch (in.init()) {
    case v1::PROMPT_INIT_UNSPECIFIED:
    case v1::PROMPT_INIT_RANDOM: spec.init = prompts::PromptInit::kRandom; break;
    case v1::PROMPT_INIT_VOCAB: spec.init = prompts::PromptInit::kVocab; break;
    case v1::PROMPT_INIT_TEXT: spec.init = prompts::PromptInit::kText; break;
    case v1::PROMPT_INIT_PROMPT: spec.init = prompts::PromptInit::kPrompt; break;
    default: return Invalid("spec.init", "is not a known PromptInit");
  }
  if (spec.init == prompts::PromptInit::kText && in.init_text().empty()) {
    return Invalid("spec.init_text", "is required when init is PROMPT_INIT_TEXT");
  }
  if (in.init_text().size() > 4096) {
    return Invalid("spec.init_text", "is longer than 4096 bytes");
  }
  if (spec.init == prompts::PromptInit::kPrompt && in.init_prompt().empty()) {
    return Invalid("spec.init_prompt", "is required when init is PROMPT_INIT_PROMPT");
  }
  spec.init_text = in.init_text();
  spec.init_prompt = in.init_prompt();
  if (!(in.l2() >= 0 && in.l2() <= 1)) return Invalid("spec.l2", "must be in [0, 1]");
  spec.l2 = in.l2();
  if (!(in.dropout() >= 0 && in.dropout() < 1)) {
    return Invalid("spec.dropout", "must be in [0, 1)");
  }
  spec.dropout = in.dropout();
  switch (in.pooling()) {
    case v1::POOLING_UNSPECIFIED: break;  // PromptSpec's default
    case v1::POOLING_CLS: spec.pooling = prompts::HeadPooling::kCls; break;
    case v1::POOLING_MEAN: spec.pooling = prompts::HeadPooling::kMean; break;
    case v1::POOLING_MASK: spec.pooling = prompts::HeadPooling::kMask; break;
    default: return Invalid("spec.pooling", "is not a known Pooling");
  }
  if (in.template_text().size() > 4096) {
    return Invalid("spec.template_text", "is longer than 4096 bytes");
  }
  spec.template_text = in.template_text();
  spec.verbalizer.assign(in.verbalizer().begin(), in.verbalizer().end());
  if (in.has_case_embeddings()) spec.case_embeddings = in.case_embeddings();
  return spec;
}

v1::PromptSpec SpecToProto(const prompts::PromptSpec& spec) {
  v1::PromptSpec out;
  out.set_kind(spec.kind == prompts::PromptKind::kDeep ? v1::PROMPT_KIND_DEEP
                                                       : v1::PROMPT_KIND_SHALLOW);
  out.set_length(spec.length);
  switch (spec.placement) {
    case prompts::Placement::kPrefix: out.set_placement(v1::PLACEMENT_PREFIX); break;
    case prompts::Placement::kInfix: out.set_placement(v1::PLACEMENT_INFIX); break;
    case prompts::Placement::kPrefixInfix:
      out.set_placement(v1::PLACEMENT_PREFIX_INFIX);
      break;
  }
  out.set_infix_position(spec.infix_position);
  out.set_reparameterization(spec.reparam == prompts::Reparam::kMlp
                                 ? v1::REPARAMETERIZATION_MLP
                                 : v1::REPARAMETERIZATION_NONE);
  out.set_mlp_hidden(spec.mlp_hidden);
  switch (spec.init) {
    case prompts::PromptInit::kRandom: out.set_init(v1::PROMPT_INIT_RANDOM); break;
    case prompts::PromptInit::kVocab: out.set_init(v1::PROMPT_INIT_VOCAB); break;
    case prompts::PromptInit::kText: out.set_init(v1::PROMPT_INIT_TEXT); break;
    case prompts::PromptInit::kPrompt: out.set_init(v1::PROMPT_INIT_PROMPT); break;
  }
  out.set_init_text(spec.init_text);
  out.set_init_prompt(spec.init_prompt);
  out.set_l2(spec.l2);
  out.set_dropout(spec.dropout);
  switch (spec.pooling) {
    case prompts::HeadPooling::kCls: out.set_pooling(v1::POOLING_CLS); break;
    case prompts::HeadPooling::kMean: out.set_pooling(v1::POOLING_MEAN); break;
    case prompts::HeadPooling::kMask: out.set_pooling(v1::POOLING_MASK); break;
  }
  out.set_template_text(spec.template_text);
  for (const std::string& word : spec.verbalizer) out.add_verbalizer(word);
  out.set_case_embeddings(spec.case_embeddings);
  return out;
}

absl::StatusOr<training::TrainOptions> OptionsFromProto(
    const v1::TrainingOptions& in) {
  training::TrainOptions options;
  if (in.epochs() < 0 || in.epochs() > kMaxEpochs) {
    return Invalid("options.epochs", absl::StrCat("must be in 1..", kMaxEpochs));
  }
  if (in.epochs() > 0) options.epochs = in.epochs();
  if (in.batch_size() < 0 || in.batch_size() > 256) {
    return Invalid("options.batch_size", "must be in 1..256");
  }
  if (in.batch_size() > 0) options.batch_size = in.batch_size();
  if (!(in.learning_rate() >= 0 && in.learning_rate() <= 1)) {
    return Invalid("options.learning_rate", "must be in (0, 1]");
  }
  if (in.learning_rate() > 0) options.learning_rate = in.learning_rate();
  if (!(in.reparam_learning_rate() >= 0 && in.reparam_learning_rate() <= 1)) {
    return Invalid("options.reparam_learning_rate", "must be in [0, 1] (0: the default)");
  }
  options.reparam_learning_rate = in.reparam_learning_rate();
  if (in.max_tokens() != 0 && (in.max_tokens() < 8 || in.max_tokens() > 512)) {
    return Invalid("options.max_tokens", "must be in 8..512 (0: the default)");
  }
  if (in.max_tokens() > 0) options.max_tokens = in.max_tokens();
  if (in.patience() < 0) return Invalid("options.patience", "must be >= 0");
  if (in.patience() > 0) options.patience = in.patience();
  if (in.seed() != 0) options.seed = in.seed();
  if (!(in.warmup_fraction() >= 0 && in.warmup_fraction() < 1)) {
    return Invalid("options.warmup_fraction", "must be in [0, 1)");
  }
  if (in.warmup_fraction() > 0) options.warmup_fraction = in.warmup_fraction();
  if (!(in.max_grad_norm() >= 0)) return Invalid("options.max_grad_norm", "must be >= 0");
  if (in.max_grad_norm() > 0) options.max_grad_norm = in.max_grad_norm();
  return options;
}

absl::StatusOr<std::string> ExamplesToJsonl(datasets::Task task,
                                            const v1::ExampleSet& examples,
                                            absl::string_view field) {
  std::string out;
  for (int i = 0; i < examples.examples_size(); ++i) {
    const v1::Example& e = examples.examples(i);
    const std::string where = absl::StrCat(field, ".examples[", i, "]");
    json row;
    if (task == datasets::Task::kClassify) {
      if (e.text().empty() || e.label().empty()) {
        return Invalid(where, "needs text and label for a classify task");
      }
      row = {{"text", e.text()}, {"label", e.label()}};
    } else if (e.tokens_size() > 0) {
      if (e.tokens_size() != e.tags_size()) {
        return Invalid(where, absl::StrCat("has ", e.tokens_size(), " tokens but ",
                                           e.tags_size(), " tags"));
      }
      row = {{"tokens", std::vector<std::string>(e.tokens().begin(), e.tokens().end())},
             {"tags", std::vector<std::string>(e.tags().begin(), e.tags().end())}};
    } else {
      if (e.text().empty()) {
        return Invalid(where, "needs tokens + tags or text + entities for a tag task");
      }
      json entities = json::array();
      for (const v1::EntitySpan& span : e.entities()) {
        entities.push_back(
            {{"start", span.start()}, {"end", span.end()}, {"type", span.type()}});
      }
      row = {{"text", e.text()}, {"entities", entities}};
    }
    // Invalid UTF-8 is reported by ParseDataset, which names the line.
    out += row.dump(-1, ' ', false, json::error_handler_t::replace);
    out += '\n';
  }
  return out;
}

absl::StatusOr<datasets::Format> FormatFromProto(v1::DatasetFormat format) {
  switch (format) {
    case v1::DATASET_FORMAT_TSV: return datasets::Format::kTsv;
    case v1::DATASET_FORMAT_CSV: return datasets::Format::kCsv;
    case v1::DATASET_FORMAT_JSONL: return datasets::Format::kJsonl;
    case v1::DATASET_FORMAT_CONLL: return datasets::Format::kConll;
    default:
      return Invalid("header.format", "must be TSV, CSV, JSONL or CONLL");
  }
}

datasets::Format StoredFormat(absl::string_view name) {
  if (name == "tsv") return datasets::Format::kTsv;
  if (name == "csv") return datasets::Format::kCsv;
  if (name == "conll") return datasets::Format::kConll;
  return datasets::Format::kJsonl;
}

v1::DatasetFormat FormatToProto(absl::string_view format) {
  if (format == "tsv") return v1::DATASET_FORMAT_TSV;
  if (format == "csv") return v1::DATASET_FORMAT_CSV;
  if (format == "jsonl") return v1::DATASET_FORMAT_JSONL;
  if (format == "conll") return v1::DATASET_FORMAT_CONLL;
  return v1::DATASET_FORMAT_UNSPECIFIED;
}

google::protobuf::Timestamp TimeToProto(absl::Time time) {
  google::protobuf::Timestamp out;
  const int64_t micros = absl::ToUnixMicros(time);
  out.set_seconds(micros / 1000000);
  out.set_nanos(static_cast<int32_t>((micros % 1000000) * 1000));
  return out;
}

v1::JobState JobStateToProto(store::JobState state) {
  switch (state) {
    case store::JobState::kQueued: return v1::JOB_STATE_QUEUED;
    case store::JobState::kRunning: return v1::JOB_STATE_RUNNING;
    case store::JobState::kSucceeded: return v1::JOB_STATE_SUCCEEDED;
    case store::JobState::kFailed: return v1::JOB_STATE_FAILED;
    case store::JobState::kCancelled: return v1::JOB_STATE_CANCELLED;
  }
  return v1::JOB_STATE_UNSPECIFIED;
}

absl::StatusOr<store::JobState> JobStateFromProto(v1::JobState state) {
  switch (state) {
    case v1::JOB_STATE_QUEUED: return store::JobState::kQueued;
    case v1::JOB_STATE_RUNNING: return store::JobState::kRunning;
    case v1::JOB_STATE_SUCCEEDED: return store::JobState::kSucceeded;
    case v1::JOB_STATE_FAILED: return store::JobState::kFailed;
    case v1::JOB_STATE_CANCELLED: return store::JobState::kCancelled;
    default: return Invalid("state", "is not a known JobState");
  }
}

v1::Job JobToProto(const store::Job& job, const std::string& metrics_json) {
  v1::Job out;
  out.set_id(job.id);
  out.set_prompt_name(job.prompt_name);
  out.set_prompt_version(job.prompt_version);
  json request = json::parse(job.request_json, nullptr, false);
  if (request.is_object() && request.contains("task") && request["task"].is_string()) {
    v1::Task task = v1::TASK_UNSPECIFIED;
    v1::Task_Parse(request["task"].get<std::string>(), &task);
    out.set_task(task);
  }
  out.set_state(JobStateToProto(job.state));
  out.set_reason(job.reason);
  const json progress = json::parse(job.progress_json, nullptr, false);
  if (progress.is_object()) {
    v1::JobProgress* p = out.mutable_progress();
    p->set_epoch(progress.value("epoch", 0));
    p->set_epochs(progress.value("epochs", 0));
    p->set_step(progress.value("step", int64_t{0}));
    p->set_total_steps(progress.value("total_steps", int64_t{0}));
    p->set_train_loss(progress.value("train_loss", 0.0));
    p->set_valid_metric(progress.value("valid_metric", 0.0));
    p->set_examples_per_second(progress.value("examples_per_second", 0.0));
    p->set_eta_seconds(progress.value("eta_seconds", 0.0));
  }
  MetricsJsonToMap(metrics_json, out.mutable_metrics());
  const json metrics = json::parse(metrics_json, nullptr, false);
  if (metrics.is_object() && metrics.contains("search") && metrics["search"].is_array()) {
    for (const json& c : metrics["search"]) {
      if (!c.is_object()) continue;
      v1::SearchCandidate* candidate = out.add_candidates();
      candidate->set_length(c.value("length", 0));
      candidate->set_template_text(c.value("template", std::string()));
      for (const json& word : c.value("verbalizer", json::array())) {
        if (word.is_string()) candidate->add_verbalizer(word.get<std::string>());
      }
      candidate->set_valid_metric(c.value("valid_metric", 0.0));
      candidate->set_chosen(c.value("chosen", false));
    }
  }
  out.set_attempts(job.attempts);
  *out.mutable_create_time() = TimeToProto(job.created_at);
  if (job.started_at) *out.mutable_start_time() = TimeToProto(*job.started_at);
  if (job.finished_at) *out.mutable_end_time() = TimeToProto(*job.finished_at);
  return out;
}

v1::PromptState PromptStateToProto(store::PromptState state) {
  switch (state) {
    case store::PromptState::kTraining: return v1::PROMPT_STATE_TRAINING;
    case store::PromptState::kReady: return v1::PROMPT_STATE_READY;
    case store::PromptState::kFailed: return v1::PROMPT_STATE_FAILED;
  }
  return v1::PROMPT_STATE_UNSPECIFIED;
}

v1::Prompt PromptToProto(const store::PromptVersion& prompt) {
  v1::Prompt out;
  out.set_name(prompt.name);
  out.set_task(TaskNameToProto(prompt.task));
  out.set_version(prompt.version);
  out.set_state(PromptStateToProto(prompt.state));
  const json spec_json = json::parse(prompt.spec_json, nullptr, false);
  if (!spec_json.is_discarded()) {
    absl::StatusOr<prompts::PromptSpec> spec = prompts::PromptSpecFromJson(spec_json);
    if (spec.ok()) *out.mutable_spec() = SpecToProto(*spec);
  }
  for (const std::string& label : prompt.labels) out.add_labels(label);
  MetricsJsonToMap(prompt.metrics_json, out.mutable_metrics());
  out.set_size_bytes(prompt.size_bytes);
  *out.mutable_create_time() = TimeToProto(prompt.created_at);
  return out;
}

v1::PromptVersion PromptVersionToProto(const store::PromptVersion& prompt) {
  v1::PromptVersion out;
  out.set_version(prompt.version);
  out.set_state(PromptStateToProto(prompt.state));
  out.set_job_id(prompt.job_id);
  MetricsJsonToMap(prompt.metrics_json, out.mutable_metrics());
  out.set_size_bytes(prompt.size_bytes);
  *out.mutable_create_time() = TimeToProto(prompt.created_at);
  return out;
}

v1::Dataset DatasetToProto(const store::Dataset& dataset) {
  v1::Dataset out;
  out.set_id(dataset.id);
  out.set_name(dataset.name);
  out.set_task(TaskNameToProto(dataset.task));
  out.set_format(FormatToProto(dataset.format));
  out.set_example_count(dataset.example_count);
  out.set_size_bytes(dataset.size_bytes);
  *out.mutable_create_time() = TimeToProto(dataset.created_at);
  return out;
}

v1::Tenant TenantToProto(const store::Tenant& tenant) {
  v1::Tenant out;
  out.set_id(tenant.id);
  out.set_name(tenant.name);
  v1::Quotas* q = out.mutable_quotas();
  q->set_max_prompts(static_cast<int32_t>(tenant.quotas.max_prompts));
  q->set_max_concurrent_jobs(static_cast<int32_t>(tenant.quotas.max_concurrent_jobs));
  q->set_max_stored_bytes(tenant.quotas.max_stored_bytes);
  q->set_requests_per_second(tenant.quotas.requests_per_second);
  q->set_burst(static_cast<int32_t>(tenant.quotas.burst));
  *out.mutable_create_time() = TimeToProto(tenant.created_at);
  return out;
}

absl::StatusOr<store::Quotas> QuotasFromProto(const v1::Quotas& in,
                                              const store::Quotas& base) {
  if (in.max_prompts() < 0) return Invalid("quotas.max_prompts", "must be >= 0");
  if (in.max_concurrent_jobs() < 0) {
    return Invalid("quotas.max_concurrent_jobs", "must be >= 0");
  }
  if (in.max_stored_bytes() < 0) return Invalid("quotas.max_stored_bytes", "must be >= 0");
  if (!std::isfinite(in.requests_per_second()) || in.requests_per_second() < 0) {
    return Invalid("quotas.requests_per_second", "must be a finite number >= 0");
  }
  if (in.burst() < 0) return Invalid("quotas.burst", "must be >= 0");
  store::Quotas out = base;
  if (in.max_prompts() > 0) out.max_prompts = in.max_prompts();
  if (in.max_concurrent_jobs() > 0) out.max_concurrent_jobs = in.max_concurrent_jobs();
  if (in.max_stored_bytes() > 0) out.max_stored_bytes = in.max_stored_bytes();
  if (in.requests_per_second() > 0) out.requests_per_second = in.requests_per_second();
  if (in.burst() > 0) out.burst = in.burst();
  return out;
}

void MetricsJsonToMap(const std::string& metrics_json,
                      google::protobuf::Map<std::string, double>* out) {
  if (metrics_json.empty()) return;
  const json metrics = json::parse(metrics_json, nullptr, false);
  if (metrics.is_object()) Flatten(metrics, "", out);
}

}  // namespace ptune::service

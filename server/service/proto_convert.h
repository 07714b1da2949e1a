// Conversions between the public API (ptune.v1 messages) and the engine's and
// store's plain C++ types. Every From* validates what it converts and names
// the offending field and the limit in its INVALID_ARGUMENT message.
// Stateless functions; thread-safe.
#ifndef PTUNE_SERVER_SERVICE_PROTO_CONVERT_H_
#define PTUNE_SERVER_SERVICE_PROTO_CONVERT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "ptune/v1/ptune.pb.h"
#include "server/datasets/dataset.h"
#include "server/prompts/prompt_spec.h"
#include "server/store/records.h"
#include "server/training/trainer.h"

namespace ptune::service {

// Prompt lengths the API accepts (the backbone may further limit them).
inline constexpr int kMaxPromptLength = 128;
inline constexpr int kMaxEpochs = 50;

absl::StatusOr<datasets::Task> TaskFromProto(v1::Task task,
                                             absl::string_view field);
v1::Task TaskToProto(datasets::Task task);
v1::Task TaskNameToProto(absl::string_view task);  // "classify" / "tag"

// Zero values take the defaults documented in ptune.proto. `length` is
// spec.length, or the first length candidate when candidates are given.
absl::StatusOr<prompts::PromptSpec> SpecFromProto(const v1::PromptSpec& spec);
v1::PromptSpec SpecToProto(const prompts::PromptSpec& spec);
absl::StatusOr<std::vector<int>> LengthCandidates(const v1::PromptSpec& spec);

// The candidates of a prompt search: every length (length_candidates, or
// `spec`'s length) crossed with every template_candidates entry (or `spec`'s
// template) and every verbalizer_candidates entry (or `spec`'s verbalizer),
// as specs derived from `spec` (= SpecFromProto(in)); `spec` alone without a
// search. INVALID_ARGUMENT for more than kMaxSearchCandidates, a template
// over 4096 bytes or an empty verbalizer.
inline constexpr int kMaxSearchCandidates = 16;
absl::StatusOr<std::vector<prompts::PromptSpec>> SearchCandidates(
    const v1::PromptSpec& in, const prompts::PromptSpec& spec);

// options.search_epochs: 1 when unset, 1..epochs (1..kMaxEpochs while
// options.epochs is unset: the job then trains at least search_epochs).
absl::StatusOr<int> SearchEpochs(const v1::TrainingOptions& in, int epochs);

absl::StatusOr<training::TrainOptions> OptionsFromProto(
    const v1::TrainingOptions& options);

// Inline examples as JSONL in the form datasets::ParseDataset reads.
absl::StatusOr<std::string> ExamplesToJsonl(datasets::Task task,
                                            const v1::ExampleSet& examples,
                                            absl::string_view field);

absl::StatusOr<datasets::Format> FormatFromProto(v1::DatasetFormat format);
// The format of a stored dataset (store::Dataset::format, written with
// datasets::FormatName); JSONL for anything else.
datasets::Format StoredFormat(absl::string_view name);
v1::DatasetFormat FormatToProto(absl::string_view format);

google::protobuf::Timestamp TimeToProto(absl::Time time);

v1::JobState JobStateToProto(store::JobState state);
absl::StatusOr<store::JobState> JobStateFromProto(v1::JobState state);
// `metrics_json`: the produced prompt version's metrics (may be empty).
v1::Job JobToProto(const store::Job& job, const std::string& metrics_json = "");

v1::PromptState PromptStateToProto(store::PromptState state);
// Name, task, version, state, spec, labels, metrics, size, time of `prompt`.
v1::Prompt PromptToProto(const store::PromptVersion& prompt);
v1::PromptVersion PromptVersionToProto(const store::PromptVersion& prompt);
v1::Dataset DatasetToProto(const store::Dataset& dataset);
v1::Tenant TenantToProto(const store::Tenant& tenant);
// Zero fields keep `base`'s values. INVALID_ARGUMENT for negative, NaN or
// infinite values (they used to be ignored or stored silently).
absl::StatusOr<store::Quotas> QuotasFromProto(const v1::Quotas& quotas,
                                              const store::Quotas& base);

// Numeric entries of a metrics JSON object, flattened with '.' ("f1",
// "per_type.PER.f1").
void MetricsJsonToMap(const std::string& metrics_json,
                      google::protobuf::Map<std::string, double>* out);

}  // namespace ptune::service

#endif  // PTUNE_SERVER_SERVICE_PROTO_CONVERT_H_

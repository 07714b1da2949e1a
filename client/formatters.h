// Human-readable and JSON renderings of the API messages for the `ptune`
// CLI. Pure functions returning strings (each ending in "\n" unless said
// otherwise), so that tests can check them. Thread-safe.
#ifndef PTUNE_CLIENT_FORMATTERS_H_
#define PTUNE_CLIENT_FORMATTERS_H_

#include <string>
#include <vector>

#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "ptune/v1/ptune.pb.h"

namespace ptune::client {

// One line of JSON (proto3 JSON mapping, lowerCamelCase names, enums by
// name, zero values printed) plus "\n".
std::string ToJson(const google::protobuf::Message& message);

// Rows under a header, columns separated by two spaces and left-aligned
// (the last column is not padded). Widths count UTF-8 code points.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// "running", "classify", "deep", ...: the enum value's name without its
// prefix, lowercased; "-" for UNSPECIFIED.
std::string JobStateName(v1::JobState state);
std::string TaskName(v1::Task task);
std::string PromptStateName(v1::PromptState state);

// "2026-11-28 16:40:05" (UTC) or "-" when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& time);
// "42s", "3m05s", "1h02m"; "-" for a non-positive duration.
std::string FormatSeconds(double seconds);
// "valid_accuracy=0.9120 valid_f1=0.8000" in key order; "-" when empty.
std::string FormatMetrics(
    const google::protobuf::Map<std::string, double>& metrics);

// The "valid_metric" entry (accuracy or entity F1 on the validation set) as
// "0.9120", or "-": the one figure the tables show.
std::string ValidMetric(
    const google::protobuf::Map<std::string, double>& metrics);

// EvaluatePrompt's report: a line naming the prompt (and ensemble) and the
// example count, the summary scores, a per-label (per-type) table of
// precision / recall / F1 / support / predicted, and for classification the
// confusion matrix (rows gold, columns predicted).
std::string FormatEvaluation(const v1::EvaluatePromptRequest& request,
                             const v1::EvaluatePromptResponse& response);

// One row per text: "label  score  text", columns aligned.
std::string FormatClassifications(const std::vector<std::string>& texts,
                                  const v1::ClassifyResponse& response);
// Per text: the text, then one indented line per entity
// `TYPE [start,end) "text" score` (or "(no entities)"), then a blank line
// between texts.
std::string FormatTaggedTexts(const std::vector<std::string>& texts,
                              const v1::TagEntitiesResponse& response);

std::string FormatJobTable(const std::vector<v1::Job>& jobs);
// Key: value lines, then the search candidates' table when it has one.
std::string FormatJob(const v1::Job& job);
// A prompt search's candidates: chosen mark ("*"), length, template,
// verbalizer and validation metric g(), one row each.
std::string FormatCandidates(const v1::Job& job);
std::string FormatPromptTable(const std::vector<v1::Prompt>& prompts);
std::string FormatPrompt(const v1::Prompt& prompt);
std::string FormatDataset(const v1::Dataset& dataset);
std::string FormatDatasetTable(const std::vector<v1::Dataset>& datasets);
std::string FormatTenantTable(const std::vector<v1::Tenant>& tenants);
std::string FormatTenant(const v1::Tenant& tenant);
std::string FormatApiKey(const v1::CreateApiKeyResponse& key);

}  // namespace ptune::client

#endif  // PTUNE_CLIENT_FORMATTERS_H_

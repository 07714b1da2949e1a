#include "client/formatters.h"

#include <algorithm>
#include <cstdint>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"

namespace ptune::client {
namespace {

// Code points in UTF-8 text (continuation bytes are not counted).
size_t DisplayWidth(const std::string& text) {
  size_t width = 0;
  for (unsigned char c : text) width += (c & 0xC0) != 0x80;
  return width;
}

std::string EnumName(const std::string& full, absl::string_view prefix) {
  absl::string_view name = full;
  if (!absl::ConsumePrefix(&name, prefix) || name == "UNSPECIFIED" ||
      name.empty()) {
    return "-";
  }
  return absl::AsciiStrToLower(name);
}

std::string PromptKindName(v1::PromptKind kind) {
  // UNSPECIFIED means deep (ptune.proto).
  if (kind == v1::PROMPT_KIND_UNSPECIFIED) return "deep";
  return EnumName(v1::PromptKind_Name(kind), "PROMPT_KIND_");
}

std::string FormatBytes(int64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  if (bytes < (1 << 20)) return absl::StrFormat("%.1f KiB", bytes / 1024.0);
  if (bytes < (int64_t{1} << 30)) {
    return absl::StrFormat("%.1f MiB", bytes / 1048576.0);
  }
  return absl::StrFormat("%.1f GiB", bytes / 1073741824.0);
}

// Metrics that count (epochs, examples, entities, a flag) print as integers.
bool IsCount(absl::string_view name) {
  for (absl::string_view count : {"best_epoch", "epochs", "early_stopped", "train_examples",
                                  "valid_examples", "test_examples", "length", "max_tokens"}) {
    if (name == count) return true;
  }
  return absl::EndsWith(name, ".support") || absl::EndsWith(name, "_examples");
}

std::string JobProgressCell(const v1::Job& job) {
  const v1::JobProgress& p = job.progress();
  if (p.epochs() == 0 && p.total_steps() == 0) return "-";
  return absl::StrCat("epoch ", p.epoch(), "/", p.epochs(), " step ", p.step(),
                      "/", p.total_steps());
}

std::string Version(int64_t version) {
  return version > 0 ? absl::StrCat("v", version) : "-";
}

std::string SpecSummary(const v1::PromptSpec& spec) {
  std::string length =
      spec.length_candidates_size() > 0
          ? absl::StrCat("lengths ",
                         absl::StrJoin(spec.length_candidates(), ","))
          : absl::StrCat("length ", spec.length() > 0 ? spec.length() : 16);
  std::string summary = absl::StrCat(PromptKindName(spec.kind()), ", ", length);
  if (spec.reparameterization() == v1::REPARAMETERIZATION_MLP) {
    absl::StrAppend(&summary, ", mlp reparameterization");
  }
  if (spec.pooling() != v1::POOLING_UNSPECIFIED) {
    absl::StrAppend(&summary, ", pooling ",
                    EnumName(v1::Pooling_Name(spec.pooling()), "POOLING_"));
  }
  if (!spec.template_text().empty()) {
    absl::StrAppend(&summary, ", template \"", spec.template_text(), "\"");
  }
  return summary;
}

// "key: value" lines with the values aligned.
std::string FormatFields(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t width = 0;
  for (const auto& [key, value] : fields) width = std::max(width, key.size());
  std::string out;
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&out, key, ":", std::string(width - key.size() + 1, ' '),
                    value, "\n");
  }
  return out;
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    // Only invalid UTF-8 in a string field gets here; say so in the output
    // rather than printing nothing.
    return absl::StrCat("{\"error\":\"cannot print as JSON: ",
                        std::string(status.message()), "\"}\n");
  }
  return json + "\n";
}

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  std::string out;
  auto append = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) {
        line.append(widths[i] - DisplayWidth(row[i]) + 2, ' ');
      }
    }
    absl::StrAppend(&out, line, "\n");
  };
  append(header);
  for (const auto& row : rows) append(row);
  return out;
}

std::string JobStateName(v1::JobState state) {
  return EnumName(v1::JobState_Name(state), "JOB_STATE_");
}

std::string TaskName(v1::Task task) {
  return EnumName(v1::Task_Name(task), "TASK_");
}

std::string PromptStateName(v1::PromptState state) {
  return EnumName(v1::PromptState_Name(state), "PROMPT_STATE_");
}

std::string FormatTimestamp(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S",
                          absl::FromUnixSeconds(time.seconds()),
                          absl::UTCTimeZone());
}

std::string FormatSeconds(double seconds) {
  if (!(seconds > 0)) return "-";
  const int64_t total = static_cast<int64_t>(seconds + 0.5);
  if (total < 60) return absl::StrCat(total, "s");
  if (total < 3600) return absl::StrFormat("%dm%02ds", total / 60, total % 60);
  return absl::StrFormat("%dh%02dm", total / 3600, (total % 3600) / 60);
}

std::string ValidMetric(
    const google::protobuf::Map<std::string, double>& metrics) {
  auto it = metrics.find("valid_metric");
  return it == metrics.end() ? "-" : absl::StrFormat("%.4f", it->second);
}

std::string FormatMetrics(
    const google::protobuf::Map<std::string, double>& metrics) {
  if (metrics.empty()) return "-";
  const std::map<std::string, double> sorted(metrics.begin(), metrics.end());
  std::vector<std::string> parts;
  for (const auto& [name, value] : sorted) {
    parts.push_back(IsCount(name) ? absl::StrFormat("%s=%.0f", name, value)
                                  : absl::StrFormat("%s=%.4f", name, value));
  }
  return absl::StrJoin(parts, " ");
}

std::string FormatClassifications(const std::vector<std::string>& texts,
                                  const v1::ClassifyResponse& response) {
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < response.results_size(); ++i) {
    const v1::Classification& result = response.results(i);
    rows.push_back({result.label(), absl::StrFormat("%.4f", result.score()),
                    i < static_cast<int>(texts.size()) ? texts[i] : ""});
  }
  std::string table = FormatTable({"LABEL", "SCORE", "TEXT"}, rows);
  return table;
}

std::string FormatTaggedTexts(const std::vector<std::string>& texts,
                              const v1::TagEntitiesResponse& response) {
  std::string out;
  for (int i = 0; i < response.results_size(); ++i) {
    if (i > 0) out += "\n";
    absl::StrAppend(&out, i < static_cast<int>(texts.size()) ? texts[i] : "",
                    "\n");
    const v1::TaggedText& tagged = response.results(i);
    if (tagged.entities_size() == 0) {
      out += "  (no entities)\n";
      continue;
    }
    for (const v1::Entity& e : tagged.entities()) {
      absl::StrAppend(&out,
                      absl::StrFormat("  %s [%d,%d) \"%s\" %.4f\n", e.type(),
                                      e.start(), e.end(), e.text(), e.score()));
    }
  }
  return out;
}

std::string FormatJobTable(const std::vector<v1::Job>& jobs) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Job& job : jobs) {
    rows.push_back({job.id(), job.prompt_name(), Version(job.prompt_version()),
                    TaskName(job.task()), JobStateName(job.state()),
                    JobProgressCell(job), FormatTimestamp(job.create_time())});
  }
  return FormatTable(
      {"ID", "PROMPT", "VERSION", "TASK", "STATE", "PROGRESS", "CREATED"},
      rows);
}

std::string FormatJob(const v1::Job& job) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"id", job.id()},
      {"prompt",
       absl::StrCat(job.prompt_name(), " ", Version(job.prompt_version()))},
      {"task", TaskName(job.task())},
      {"state", JobStateName(job.state())}};
  if (!job.reason().empty()) fields.push_back({"reason", job.reason()});
  const v1::JobProgress& p = job.progress();
  fields.push_back({"progress", JobProgressCell(job)});
  if (p.total_steps() > 0) {
    fields.push_back({"train_loss", absl::StrFormat("%.4f", p.train_loss())});
    // The best epoch's figure is metrics.valid_metric.
    fields.push_back(
        {"last_epoch_valid", absl::StrFormat("%.4f", p.valid_metric())});
    fields.push_back({"eta", FormatSeconds(p.eta_seconds())});
  }
  fields.push_back({"metrics", FormatMetrics(job.metrics())});
  fields.push_back({"attempts", absl::StrCat(job.attempts())});
  fields.push_back({"created", FormatTimestamp(job.create_time())});
  fields.push_back({"started", FormatTimestamp(job.start_time())});
  fields.push_back({"ended", FormatTimestamp(job.end_time())});
  std::string out = FormatFields(fields);
  if (job.candidates_size() > 0) absl::StrAppend(&out, "\n", FormatCandidates(job));
  return out;
}

std::string FormatCandidates(const v1::Job& job) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::SearchCandidate& c : job.candidates()) {
    rows.push_back({c.chosen() ? "*" : "", absl::StrCat(c.length()),
                    c.template_text().empty() ? "-" : c.template_text(),
                    c.verbalizer().empty() ? "-" : absl::StrJoin(c.verbalizer(), ","),
                    absl::StrFormat("%.4f", c.valid_metric())});
  }
  return FormatTable({"", "LENGTH", "TEMPLATE", "VERBALIZER", "VALID"}, rows);
}

std::string FormatPromptTable(const std::vector<v1::Prompt>& prompts) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Prompt& p : prompts) {
    rows.push_back({p.name(), TaskName(p.task()), Version(p.version()),
                    PromptStateName(p.state()), absl::StrCat(p.labels_size()),
                    ValidMetric(p.metrics())});
  }
  return FormatTable({"NAME", "TASK", "VERSION", "STATE", "LABELS", "VALID"},
                     rows);
}

std::string FormatPrompt(const v1::Prompt& prompt) {
  std::string out =
      FormatFields({{"name", prompt.name()},
                    {"task", TaskName(prompt.task())},
                    {"version", Version(prompt.version())},
                    {"state", PromptStateName(prompt.state())},
                    {"spec", SpecSummary(prompt.spec())},
                    {"labels", absl::StrJoin(prompt.labels(), ",")},
                    {"metrics", FormatMetrics(prompt.metrics())},
                    {"size", FormatBytes(prompt.size_bytes())},
                    {"created", FormatTimestamp(prompt.create_time())}});
  if (prompt.versions_size() > 0) {
    std::vector<std::vector<std::string>> rows;
    for (const v1::PromptVersion& v : prompt.versions()) {
      rows.push_back(
          {Version(v.version()), PromptStateName(v.state()),
           v.job_id().empty() ? "-" : v.job_id(), FormatBytes(v.size_bytes()),
           FormatTimestamp(v.create_time()), ValidMetric(v.metrics())});
    }
    absl::StrAppend(
        &out, "\n",
        FormatTable({"VERSION", "STATE", "JOB", "SIZE", "CREATED", "VALID"},
                    rows));
  }
  return out;
}

std::string FormatDataset(const v1::Dataset& dataset) {
  return FormatFields(
      {{"id", dataset.id()},
       {"name", dataset.name()},
       {"task", TaskName(dataset.task())},
       {"format",
        EnumName(v1::DatasetFormat_Name(dataset.format()), "DATASET_FORMAT_")},
       {"examples", absl::StrCat(dataset.example_count())},
       {"size", FormatBytes(dataset.size_bytes())},
       {"created", FormatTimestamp(dataset.create_time())}});
}

std::string FormatDatasetTable(const std::vector<v1::Dataset>& datasets) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Dataset& d : datasets) {
    rows.push_back({d.id(), d.name(), TaskName(d.task()), absl::StrCat(d.example_count()),
                    FormatBytes(d.size_bytes()), FormatTimestamp(d.create_time())});
  }
  return FormatTable({"ID", "NAME", "TASK", "EXAMPLES", "SIZE", "CREATED"}, rows);
}

std::string FormatTenantTable(const std::vector<v1::Tenant>& tenants) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Tenant& t : tenants) {
    rows.push_back({t.id(), t.name(), FormatTimestamp(t.create_time())});
  }
  return FormatTable({"ID", "NAME", "CREATED"}, rows);
}

std::string FormatTenant(const v1::Tenant& tenant) {
  const v1::Quotas& q = tenant.quotas();
  auto or_default = [](auto value) {
    return value == 0 ? std::string("default") : absl::StrCat(value);
  };
  return FormatFields(
      {{"id", tenant.id()},
       {"name", tenant.name()},
       {"max_prompts", or_default(q.max_prompts())},
       {"max_concurrent_jobs", or_default(q.max_concurrent_jobs())},
       {"max_stored_bytes", or_default(q.max_stored_bytes())},
       {"requests_per_second", or_default(q.requests_per_second())},
       {"burst", or_default(q.burst())},
       {"created", FormatTimestamp(tenant.create_time())}});
}

std::string FormatApiKey(const v1::CreateApiKeyResponse& key) {
  return absl::StrCat(
      FormatFields({{"key_id", key.key_id()}, {"api_key", key.api_key()}}),
      "The key is shown only this once; store it now.\n");
}

namespace {

std::string Score(double value) { return absl::StrFormat("%.4f", value); }

std::vector<std::vector<std::string>> LabelRows(
    const google::protobuf::RepeatedPtrField<v1::LabelMetrics>& labels) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::LabelMetrics& l : labels) {
    rows.push_back({l.label(), Score(l.precision()), Score(l.recall()), Score(l.f1()),
                    absl::StrCat(l.support()), absl::StrCat(l.predicted())});
  }
  return rows;
}

}  // namespace

std::string FormatEvaluation(const v1::EvaluatePromptRequest& request,
                             const v1::EvaluatePromptResponse& response) {
  std::string out = absl::StrCat("prompt ", request.prompt_name(), " v", response.version());
  for (const v1::PromptRef& member : response.ensemble()) {
    absl::StrAppend(&out, " + ", member.name(), " v", member.version());
  }
  absl::StrAppend(&out, ", ", response.example_count(), " examples\n");
  if (response.has_tagging()) {
    const v1::TaggingMetrics& t = response.tagging();
    absl::StrAppend(&out, "entity precision ", Score(t.precision()), "  recall ",
                    Score(t.recall()), "  f1 ", Score(t.f1()), "  (gold ", t.gold(),
                    ", predicted ", t.predicted(), ", correct ", t.correct(), ")\n\n");
    absl::StrAppend(&out, FormatTable({"TYPE", "PRECISION", "RECALL", "F1", "SUPPORT",
                                       "PREDICTED"},
                                      LabelRows(t.types())));
    return out;
  }
  const v1::ClassificationMetrics& c = response.classification();
  absl::StrAppend(&out, "accuracy ", Score(c.accuracy()), "  macro-F1 ", Score(c.macro_f1()),
                  "\n\n");
  absl::StrAppend(&out, FormatTable({"LABEL", "PRECISION", "RECALL", "F1", "SUPPORT",
                                     "PREDICTED"},
                                    LabelRows(c.labels())));
  const int n = c.labels_size();
  if (n > 0 && c.confusion_size() == n * n) {
    absl::StrAppend(&out, "\nconfusion (rows: gold, columns: predicted)\n");
    std::vector<std::string> header = {""};
    for (const v1::LabelMetrics& l : c.labels()) header.push_back(l.label());
    std::vector<std::vector<std::string>> rows;
    for (int g = 0; g < n; ++g) {
      std::vector<std::string>& row = rows.emplace_back();
      row.push_back(c.labels(g).label());
      for (int p = 0; p < n; ++p) row.push_back(absl::StrCat(c.confusion(g * n + p)));
    }
    absl::StrAppend(&out, FormatTable(header, rows));
  }
  return out;
}

}  // namespace ptune::client

#include "server/datasets/dataset.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/common/status_macros.h"
#include "server/datasets/bio_tags.h"
#include "server/datasets/readers.h"
#include "server/datasets/text_util.h"

namespace ptune::datasets {
namespace {

constexpr absl::string_view kUtf8Bom = "\xEF\xBB\xBF";

// Contents of 2 GiB or more are refused (offsets are 32-bit).
constexpr size_t kMaxContentsBytes = std::numeric_limits<int32_t>::max();

// The integer value of a canonical decimal label ("0", "-3", "12"; not "01",
// "+1" or " 1"), or false.
bool CanonicalInteger(absl::string_view label, int64_t* value) {
  absl::string_view digits = label;
  if (absl::StartsWith(digits, "-")) digits.remove_prefix(1);
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) return false;
  for (const char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  if (label == "-0") return false;
  return absl::SimpleAtoi(label, value);
}

}  // namespace

absl::string_view TaskName(Task task) {
  switch (task) {
    case Task::kClassify:
      return "classify";
    case Task::kTag:
      return "tag";
  }
  return "unknown";
}

absl::StatusOr<Task> TaskFromName(absl::string_view name) {
  for (Task task : {Task::kClassify, Task::kTag}) {
    if (name == TaskName(task)) return task;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown task \"", name, "\""));
}

absl::string_view FormatName(Format format) {
  switch (format) {
    case Format::kAuto:
      return "auto";
    case Format::kTsv:
      return "tsv";
    case Format::kCsv:
      return "csv";
    case Format::kJsonl:
      return "jsonl";
    case Format::kConll:
      return "conll";
  }
  return "unknown";
}

absl::StatusOr<Format> FormatFromPath(absl::string_view path) {
  const size_t slash = path.find_last_of('/');
  const absl::string_view name =
      slash == absl::string_view::npos ? path : path.substr(slash + 1);
  const size_t dot = name.find_last_of('.');
  const std::string ext = absl::AsciiStrToLower(
      dot == absl::string_view::npos ? "" : name.substr(dot + 1));
  if (ext == "tsv") return Format::kTsv;
  if (ext == "csv") return Format::kCsv;
  if (ext == "jsonl" || ext == "json") return Format::kJsonl;
  if (ext == "conll" || ext == "txt" || ext == "iob" || ext == "bio") {
    return Format::kConll;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      path,
      ": cannot tell the dataset format from the file name; use .tsv, .csv, "
      ".jsonl/.json or .conll/.txt/.iob/.bio, or give the format"));
}

absl::StatusOr<Dataset> ReadDataset(const std::string& path, Task task,
                                    Format format) {
  std::error_code error;
  const std::filesystem::file_status status =
      std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  if (!std::filesystem::is_regular_file(status)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a file"));
  }
  if (format == Format::kAuto) {
    ASSIGN_OR_RETURN(format, FormatFromPath(path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot open for reading"));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat(path, ": read error"));
  }
  const std::string contents = std::move(buffer).str();
  return ParseDataset(contents, path, task, format);
}

absl::StatusOr<Dataset> ParseDataset(absl::string_view contents,
                                     absl::string_view source_name, Task task,
                                     Format format) {
  if (contents.size() >= kMaxContentsBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_name, ": datasets of 2 GiB or more are not supported"));
  }
  if (format == Format::kAuto) {
    ASSIGN_OR_RETURN(format, FormatFromPath(source_name));
  }
  if (absl::StartsWith(contents, kUtf8Bom)) contents.remove_prefix(3);
  RETURN_IF_ERROR(CheckUtf8(contents, source_name));
  absl::StatusOr<Dataset> dataset;
  switch (format) {
    case Format::kTsv:
      dataset = ParseTsv(contents, source_name, task);
      break;
    case Format::kCsv:
      dataset = ParseCsv(contents, source_name, task);
      break;
    case Format::kJsonl:
      dataset = ParseJsonl(contents, source_name, task);
      break;
    case Format::kConll:
      dataset = ParseConll(contents, source_name, task);
      break;
    case Format::kAuto:
      return absl::InternalError("format not resolved");
  }
  if (!dataset.ok()) return dataset.status();
  if (dataset->size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": no examples (empty ", FormatName(format),
                     " dataset for task ", TaskName(task), ")"));
  }
  ComputeLabels(&*dataset);
  return dataset;
}

void ComputeLabels(Dataset* dataset) {
  std::set<std::string> unique;
  if (dataset->task == Task::kClassify) {
    for (const ClassificationExample& e : dataset->classification) {
      unique.insert(e.label);
    }
  } else {
    for (const TaggingExample& e : dataset->tagging) {
      for (const Span& span : e.entities) unique.insert(span.type);
    }
  }
  dataset->labels.assign(unique.begin(), unique.end());
  if (dataset->task != Task::kClassify) return;
  std::vector<std::pair<int64_t, std::string>> numeric;
  for (const std::string& label : dataset->labels) {
    int64_t value;
    if (!CanonicalInteger(label, &value)) return;  // Keep bytewise order.
    numeric.emplace_back(value, label);
  }
  std::sort(numeric.begin(), numeric.end());
  for (size_t i = 0; i < numeric.size(); ++i) {
    dataset->labels[i] = std::move(numeric[i].second);
  }
}

TaggingExample TaggingExampleFromTokens(const std::vector<std::string>& tokens,
                                        const std::vector<std::string>& tags) {
  TaggingExample example;
  int32_t offset = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) {
      example.text.push_back(' ');
      ++offset;
    }
    example.text += tokens[i];
    const auto length = static_cast<int32_t>(CodePointCount(tokens[i]));
    example.words.push_back({offset, offset + length, ""});
    offset += length;
  }
  example.tags = ToIob2(tags);
  example.entities = ChunksToSpans(example.words, ChunkTags(example.tags));
  return example;
}

}  // namespace ptune::datasets

// Labeled datasets for the two tasks ptune tunes prompts for: text
// classification and named-entity tagging. Files (or uploaded contents) in
// TSV, CSV, JSONL or CoNLL form become one in-memory Dataset; every row is
// validated, and a bad row fails the whole read with INVALID_ARGUMENT naming
// the source, the 1-based line and the reason ("dev.tsv:12: empty text").
// Nothing is skipped silently. Stateless functions; thread-safe.
#ifndef PTUNE_SERVER_DATASETS_DATASET_H_
#define PTUNE_SERVER_DATASETS_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ptune::datasets {

// A half-open range [begin, end) of Unicode code points of a text. `type` is
// the entity type for entity spans and unused (empty) for word spans.
struct Span {
  int32_t begin = 0;
  int32_t end = 0;
  std::string type;

  friend bool operator==(const Span& a, const Span& b) {
    return a.begin == b.begin && a.end == b.end && a.type == b.type;
  }
  friend bool operator!=(const Span& a, const Span& b) { return !(a == b); }
};

// One text with its class label.
struct ClassificationExample {
  std::string text;   // UTF-8, not empty and not only whitespace.
  std::string label;  // Not empty; integer labels are kept as decimal text.
};

// One sentence with its words and entities.
struct TaggingExample {
  std::string text;               // UTF-8.
  std::vector<Span> words;        // In code points; in order, non-overlapping.
  std::vector<std::string> tags;  // One IOB2 tag per word ("O", "B-X", "I-X").
  std::vector<Span> entities;     // The same information as entity spans
                                  // (whole words; in order).
};

enum class Task { kClassify, kTag };

// kAuto picks the format from the file extension (see FormatFromPath).
enum class Format { kAuto, kTsv, kCsv, kJsonl, kConll };

// A whole dataset. Only the vector matching `task` is filled.
struct Dataset {
  Task task = Task::kClassify;
  std::vector<ClassificationExample> classification;
  std::vector<TaggingExample> tagging;
  // Classification: the distinct labels, sorted (numerically when every label
  // is a decimal integer, e.g. "2" < "10"; bytewise otherwise). Tagging: the
  // distinct entity types, sorted bytewise.
  std::vector<std::string> labels;

  // Number of examples of the dataset's task.
  size_t size() const {
    return task == Task::kClassify ? classification.size() : tagging.size();
  }
  // The text of example `i` of the dataset's task.
  const std::string& text(size_t i) const {
    return task == Task::kClassify ? classification[i].text : tagging[i].text;
  }
};

// "classify" / "tag" and "tsv" / "csv" / "jsonl" / "conll" / "auto", for
// messages and flags.
absl::string_view TaskName(Task task);
// The inverse of TaskName (e.g. a stored record's task); INVALID_ARGUMENT
// for any other name.
absl::StatusOr<Task> TaskFromName(absl::string_view name);
absl::string_view FormatName(Format format);

// The format for a file name: .tsv, .csv, .jsonl or .json, .conll or .txt or
// .iob or .bio (case-insensitive). INVALID_ARGUMENT for other extensions.
absl::StatusOr<Format> FormatFromPath(absl::string_view path);

// Reads and parses a file. NOT_FOUND when it does not exist; format kAuto
// uses FormatFromPath. Errors name `path`.
absl::StatusOr<Dataset> ReadDataset(const std::string& path, Task task,
                                    Format format = Format::kAuto);

// Parses in-memory contents (e.g. an uploaded dataset). `source_name` is used
// in error messages and, for Format::kAuto, to pick the format. A leading
// UTF-8 byte-order mark is ignored. Formats:
//  * TSV / CSV (classification only): a header row naming the text column
//    ("text" or "sentence") and the "label" column, case-insensitive; other
//    columns are ignored. CSV follows RFC 4180; TSV has no quoting.
//  * JSONL: one object per line, blank lines allowed. Classification:
//    {"text": str, "label": str|int}. Tagging: {"tokens": [str], "tags":
//    [str]} or {"text": str, "entities": [{"start", "end", "type"}]} with
//    code-point offsets aligned to BERT-style pre-tokens (PreTokenize).
//  * CoNLL (tagging only): one token per line, whitespace-separated columns,
//    the tag being the last column that is a valid BIO tag; blank lines
//    separate sentences; -DOCSTART- lines are skipped.
// Tags are validated and IOB1 input is normalized to IOB2. An empty dataset
// is an error.
absl::StatusOr<Dataset> ParseDataset(absl::string_view contents,
                                     absl::string_view source_name, Task task,
                                     Format format);

// Fills `dataset->labels` from its examples (see Dataset::labels).
void ComputeLabels(Dataset* dataset);

}  // namespace ptune::datasets

#endif  // PTUNE_SERVER_DATASETS_DATASET_H_

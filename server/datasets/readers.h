// The per-format parsers behind ParseDataset. Each expects contents that
// ParseDataset has already checked to be well-formed UTF-8 (byte-order mark
// removed) and returns a Dataset whose examples are filled but whose `labels`
// are not (ParseDataset calls ComputeLabels). Errors are INVALID_ARGUMENT
// "<source>:<line>: <reason>". Stateless; thread-safe.
#ifndef PTUNE_SERVER_DATASETS_READERS_H_
#define PTUNE_SERVER_DATASETS_READERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/datasets/dataset.h"

namespace ptune::datasets {

// Tab-separated values with a header row, quoted as pandas'
// to_csv(sep="\t") and spreadsheet exports write them: a field that starts
// with '"' and whose closing '"' is followed by a tab or the line's end is a
// quoted field (it may hold tabs, line breaks and doubled quotes); any other
// field, also one that starts with a quote but does not end like that, is
// read literally up to the next tab or line end. LF or CRLF line ends.
// Classification only.
absl::StatusOr<Dataset> ParseTsv(absl::string_view contents,
                                 absl::string_view source, Task task);

// RFC 4180 comma-separated values with a header row. Classification only.
absl::StatusOr<Dataset> ParseCsv(absl::string_view contents,
                                 absl::string_view source, Task task);

// One JSON object per line; blank lines are allowed.
absl::StatusOr<Dataset> ParseJsonl(absl::string_view contents,
                                   absl::string_view source, Task task);

// CoNLL columns, one token per line. Tagging only.
absl::StatusOr<Dataset> ParseConll(absl::string_view contents,
                                   absl::string_view source, Task task);

// A tagging example from tokens and their tags (validated BIO; normalized
// here to IOB2): the text is the tokens joined by single spaces.
TaggingExample TaggingExampleFromTokens(const std::vector<std::string>& tokens,
                                        const std::vector<std::string>& tags);

// One CSV record: its fields (quotes removed, "" unescaped) and the line it
// starts on.
struct CsvRecord {
  std::vector<std::string> fields;
  int64_t line = 0;
};

// Splits RFC 4180 CSV into records. Fields may be quoted; quoted fields may
// hold commas, line breaks and doubled quotes. Records end at "\n" or "\r\n";
// empty lines are not records. A quote inside an unquoted field, text after a
// closing quote and an unterminated quote are errors naming the line.
absl::StatusOr<std::vector<CsvRecord>> ParseCsvRecords(
    absl::string_view contents, absl::string_view source);

// The same for any one-character `separator`. `strict` = RFC 4180's errors
// (CSV); otherwise a field that is not well quoted is read literally (TSV,
// see ParseTsv).
absl::StatusOr<std::vector<CsvRecord>> ParseDelimitedRecords(absl::string_view contents,
                                                             absl::string_view source,
                                                             char separator, bool strict);

}  // namespace ptune::datasets

#endif  // PTUNE_SERVER_DATASETS_READERS_H_

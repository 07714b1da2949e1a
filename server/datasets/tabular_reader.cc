// TSV and CSV classification readers (see readers.h).
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "server/common/status_macros.h"
#include "server/datasets/readers.h"
#include "server/datasets/text_util.h"

namespace ptune::datasets {
namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

// Where the text and label columns are in a header of `count` columns.
struct Columns {
  size_t text = kNone;
  size_t label = kNone;
  size_t count = 0;
};

absl::Status RequireClassification(absl::string_view kind,
                                   absl::string_view source, Task task) {
  if (task == Task::kClassify) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": ", kind,
      " files hold classification data only (text and label columns); "
      "use CoNLL or JSONL for tagging"));
}

template <typename Field>
absl::StatusOr<Columns> FindColumns(const std::vector<Field>& header,
                                    absl::string_view source, int64_t line) {
  Columns columns;
  columns.count = header.size();
  std::vector<std::string> names;
  for (size_t i = 0; i < header.size(); ++i) {
    std::string name =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(header[i]));
    if (name == "text" || name == "sentence") {
      if (columns.text != kNone) {
        return LineError(source, line,
                         "header has more than one text column (\"text\" or "
                         "\"sentence\")");
      }
      columns.text = i;
    } else if (name == "label") {
      if (columns.label != kNone) {
        return LineError(source, line,
                         "header has more than one \"label\" column");
      }
      columns.label = i;
    }
    names.push_back(QuoteForMessage(header[i]));
  }
  const std::string shown = absl::StrJoin(names, ", ");
  if (columns.text == kNone) {
    return LineError(source, line,
                     absl::StrCat("header has no \"text\" or \"sentence\" "
                                  "column (columns: ",
                                  shown, ")"));
  }
  if (columns.label == kNone) {
    return LineError(
        source, line,
        absl::StrCat("header has no \"label\" column (columns: ", shown, ")"));
  }
  return columns;
}

template <typename Field>
absl::Status AddRow(const std::vector<Field>& fields, const Columns& columns,
                    absl::string_view source, int64_t line, Dataset* dataset) {
  if (fields.size() < columns.count) {
    return LineError(source, line,
                     absl::StrCat("missing column: the row has ", fields.size(),
                                  " field(s), the header ", columns.count));
  }
  if (fields.size() > columns.count) {
    return LineError(
        source, line,
        absl::StrCat("the row has ", fields.size(), " fields, the header only ",
                     columns.count, " (stray separator in the text?)"));
  }
  absl::string_view text = fields[columns.text];
  if (IsBlank(text)) return LineError(source, line, "empty text");
  absl::string_view label = absl::StripAsciiWhitespace(fields[columns.label]);
  if (label.empty()) {
    return LineError(source, line, "missing label (empty \"label\" field)");
  }
  dataset->classification.push_back({std::string(text), std::string(label)});
  return absl::OkStatus();
}

// The header record names the columns; every later record is a row.
absl::StatusOr<Dataset> TableToDataset(const std::vector<CsvRecord>& records,
                                       absl::string_view source, Task task) {
  Dataset dataset;
  dataset.task = task;
  if (records.empty()) return dataset;
  ASSIGN_OR_RETURN(Columns columns,
                   FindColumns(records[0].fields, source, records[0].line));
  for (size_t r = 1; r < records.size(); ++r) {
    RETURN_IF_ERROR(
        AddRow(records[r].fields, columns, source, records[r].line, &dataset));
  }
  return dataset;
}

}  // namespace

absl::StatusOr<Dataset> ParseTsv(absl::string_view contents,
                                 absl::string_view source, Task task) {
  RETURN_IF_ERROR(RequireClassification("TSV", source, task));
  ASSIGN_OR_RETURN(std::vector<CsvRecord> records,
                   ParseDelimitedRecords(contents, source, '\t', /*strict=*/false));
  return TableToDataset(records, source, task);
}

absl::StatusOr<std::vector<CsvRecord>> ParseDelimitedRecords(absl::string_view contents,
                                                             absl::string_view source,
                                                             char separator, bool strict) {
  std::vector<CsvRecord> records;
  const size_t n = contents.size();
  size_t i = 0;
  int64_t line = 1;
  const auto at_record_end = [&](size_t k) {
    return k >= n || contents[k] == '\n' ||
           (contents[k] == '\r' && k + 1 < n && contents[k + 1] == '\n');
  };
  while (i < n) {
    // An empty line is not a record.
    if (contents[i] == '\n') {
      ++i;
      ++line;
      continue;
    }
    if (contents[i] == '\r' && i + 1 < n && contents[i + 1] == '\n') {
      i += 2;
      ++line;
      continue;
    }
    CsvRecord record;
    record.line = line;
    bool record_done = false;
    while (!record_done) {
      std::string field;
      bool quoted = false;
      if (i < n && contents[i] == '"') {
        // A quoted field: up to the closing quote, "" standing for one.
        const size_t field_start = i;
        const int64_t quote_line = line;
        size_t k = i + 1;
        int64_t k_line = line;
        bool closed = false;
        while (k < n) {
          const char c = contents[k];
          if (c == '"') {
            if (k + 1 < n && contents[k + 1] == '"') {
              field.push_back('"');
              k += 2;
              continue;
            }
            ++k;
            closed = true;
            break;
          }
          if (c == '\n') ++k_line;
          field.push_back(c);
          ++k;
        }
        const bool well_ended = closed && (at_record_end(k) || contents[k] == separator);
        if (well_ended) {
          i = k;
          line = k_line;
          quoted = true;
        } else if (strict) {
          if (!closed) {
            return LineError(source, quote_line,
                             "unterminated quoted field (no closing '\"' before "
                             "the end of the file)");
          }
          return LineError(
              source, k_line,
              absl::StrCat("unexpected ", QuoteForMessage(contents.substr(k, 1)),
                           " after a closing quote (a quote inside a quoted "
                           "field must be doubled)"));
        } else {
          // Lenient (TSV): not a quoted field after all; read it literally.
          field.clear();
          i = field_start;
        }
      }
      if (!quoted) {
        while (i < n) {
          const char c = contents[i];
          if (c == separator || c == '\n') break;
          if (c == '\r' && i + 1 < n && contents[i + 1] == '\n') break;
          if (c == '"' && strict) {
            return LineError(source, line,
                             "quote inside an unquoted field (quote the whole "
                             "field and double the quote)");
          }
          field.push_back(c);
          ++i;
        }
      }
      record.fields.push_back(std::move(field));
      if (i >= n) {
        record_done = true;
      } else if (contents[i] == separator) {
        ++i;  // Another field follows (possibly empty, at the end).
      } else {
        i += contents[i] == '\r' ? 2 : 1;
        ++line;
        record_done = true;
      }
    }
    records.push_back(std::move(record));
  }
  return records;
}

absl::StatusOr<std::vector<CsvRecord>> ParseCsvRecords(absl::string_view contents,
                                                       absl::string_view source) {
  return ParseDelimitedRecords(contents, source, ',', /*strict=*/true);
}

absl::StatusOr<Dataset> ParseCsv(absl::string_view contents,
                                 absl::string_view source, Task task) {
  RETURN_IF_ERROR(RequireClassification("CSV", source, task));
  ASSIGN_OR_RETURN(std::vector<CsvRecord> records,
                   ParseCsvRecords(contents, source));
  return TableToDataset(records, source, task);
}

}  // namespace ptune::datasets

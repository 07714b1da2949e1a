// CoNLL column reader for tagging (see readers.h and dataset.h).
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "server/datasets/bio_tags.h"
#include "server/datasets/readers.h"
#include "server/datasets/text_util.h"

namespace ptune::datasets {
namespace {

constexpr char32_t kByteOrderMark = 0xFEFF;

// A sentence separator: nothing but whitespace, and byte-order marks
// (U+FEFF, zero width) that concatenated files leave behind. WNUT-17's
// dev.conll ends with such a line, and its train.conll separates sentences
// with lines holding a single tab.
bool IsSeparatorLine(absl::string_view text) {
  for (const char32_t c : DecodeUtf8(text)) {
    if (!IsWhitespace(c) && c != kByteOrderMark) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<Dataset> ParseConll(absl::string_view contents,
                                   absl::string_view source, Task task) {
  if (task != Task::kTag) {
    return absl::InvalidArgumentError(absl::StrCat(
        source,
        ": CoNLL files hold tagging data only; use TSV, CSV or JSONL for "
        "classification"));
  }
  Dataset dataset;
  dataset.task = task;
  std::vector<std::string> tokens;
  std::vector<std::string> tags;
  auto flush = [&]() {
    if (tokens.empty()) return;
    dataset.tagging.push_back(TaggingExampleFromTokens(tokens, tags));
    tokens.clear();
    tags.clear();
  };
  for (const Line& line : SplitLines(contents)) {
    if (IsSeparatorLine(line.text)) {
      flush();
      continue;
    }
    std::vector<absl::string_view> columns =
        absl::StrSplit(line.text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (absl::StartsWith(columns[0], "-DOCSTART-")) {
      // A document boundary; the blank line after it is a separator anyway.
      flush();
      continue;
    }
    if (columns.size() < 2) {
      return LineError(source, line.number,
                       absl::StrCat("missing tag column: the line ",
                                    QuoteForMessage(line.text),
                                    " needs a token and a BIO tag"));
    }
    // The tag is the last column that is a valid tag, so that both
    // "token TAG 0" (CoNLL-2003 here) and "token POS CHUNK TAG" work.
    size_t tag_column = 0;
    for (size_t c = columns.size() - 1; c >= 1; --c) {
      if (IsValidBioTag(columns[c])) {
        tag_column = c;
        break;
      }
    }
    if (tag_column == 0) {
      const absl::Status reason = ParseBioTag(columns[1]).status();
      if (columns.size() == 2) {
        return LineError(source, line.number, reason.message());
      }
      std::vector<std::string> shown;
      for (size_t c = 1; c < columns.size(); ++c) {
        shown.push_back(QuoteForMessage(columns[c]));
      }
      return LineError(
          source, line.number,
          absl::StrCat("no valid BIO tag in columns 2-", columns.size(), " (",
                       absl::StrJoin(shown, ", "),
                       "); column 2: ", reason.message()));
    }
    tokens.emplace_back(columns[0]);
    tags.emplace_back(columns[tag_column]);
  }
  flush();
  return dataset;
}

}  // namespace ptune::datasets

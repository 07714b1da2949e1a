// JSON-lines reader for both tasks (see readers.h and dataset.h).
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/datasets/bio_tags.h"
#include "server/datasets/readers.h"
#include "server/datasets/text_util.h"

namespace ptune::datasets {
namespace {

using Json = nlohmann::json;

// The string value of `key`, or an error naming the key (and what it was).
absl::StatusOr<const std::string*> GetString(const Json& object,
                                             absl::string_view key) {
  const auto it = object.find(std::string(key));
  if (it == object.end()) {
    return absl::InvalidArgumentError(absl::StrCat("missing \"", key, "\""));
  }
  if (!it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", key, "\" must be a string, not ", it->type_name()));
  }
  return &it->get_ref<const std::string&>();
}

// A list of strings under `key` (error naming the element otherwise).
absl::StatusOr<std::vector<std::string>> GetStringList(const Json& object,
                                                       absl::string_view key) {
  const auto it = object.find(std::string(key));
  if (it == object.end()) {
    return absl::InvalidArgumentError(absl::StrCat("missing \"", key, "\""));
  }
  if (!it->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", key, "\" must be a list of strings, not ", it->type_name()));
  }
  std::vector<std::string> out;
  out.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& item = (*it)[i];
    if (!item.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(
          key, "[", i, "] must be a string, not ", item.type_name()));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

absl::StatusOr<int64_t> GetInt(const Json& object, absl::string_view key,
                               absl::string_view where) {
  const auto it = object.find(std::string(key));
  if (it == object.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": missing \"", key, "\""));
  }
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": \"", key, "\" must be an integer, not ", it->type_name()));
  }
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(INT32_MAX)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"", key, "\" is out of range"));
    }
    return static_cast<int64_t>(v);
  }
  return it->get<int64_t>();
}

absl::Status AddClassification(const Json& object, Dataset* dataset) {
  ASSIGN_OR_RETURN(const std::string* text, GetString(object, "text"));
  if (IsBlank(*text)) return absl::InvalidArgumentError("empty text");
  const auto it = object.find("label");
  if (it == object.end() || it->is_null()) {
    return absl::InvalidArgumentError("missing \"label\"");
  }
  std::string label;
  if (it->is_string()) {
    label = it->get<std::string>();
    if (label.empty()) return absl::InvalidArgumentError("empty \"label\"");
  } else if (it->is_number_unsigned()) {
    label = absl::StrCat(it->get<uint64_t>());
  } else if (it->is_number_integer()) {
    label = absl::StrCat(it->get<int64_t>());
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"label\" must be a string or an integer, not ", it->type_name()));
  }
  dataset->classification.push_back({*text, std::move(label)});
  return absl::OkStatus();
}

absl::Status AddTokensAndTags(const Json& object, Dataset* dataset) {
  ASSIGN_OR_RETURN(std::vector<std::string> tokens,
                   GetStringList(object, "tokens"));
  ASSIGN_OR_RETURN(std::vector<std::string> tags,
                   GetStringList(object, "tags"));
  if (tokens.size() != tags.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(tokens.size(), " tokens but ", tags.size(), " tags"));
  }
  if (tokens.empty()) return absl::InvalidArgumentError("no tokens");
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokens[", i, "] is empty"));
    }
    for (const char32_t c : DecodeUtf8(tokens[i])) {
      if (IsWhitespace(c)) {
        return absl::InvalidArgumentError(
            absl::StrCat("tokens[", i, "] ", QuoteForMessage(tokens[i]),
                         " contains whitespace"));
      }
    }
    const absl::StatusOr<BioTag> tag = ParseBioTag(tags[i]);
    if (!tag.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tags[", i, "]: ", tag.status().message()));
    }
  }
  dataset->tagging.push_back(TaggingExampleFromTokens(tokens, tags));
  return absl::OkStatus();
}

// Describes entity `index` for messages: entities[2] (PER [5, 9)).
std::string EntityName(size_t index, absl::string_view type, int64_t begin,
                       int64_t end) {
  return absl::StrCat("entities[", index, "] (", type, " [", begin, ", ", end,
                      "))");
}

// A word of the text, quoted, with its code-point range.
std::string WordForMessage(const std::u32string& code_points,
                           const Span& word) {
  return absl::StrCat(QuoteForMessage(EncodeUtf8(code_points.substr(
                          word.begin, word.end - word.begin))),
                      " [", word.begin, ", ", word.end, ")");
}

absl::Status AddTextAndEntities(const Json& object, Dataset* dataset) {
  ASSIGN_OR_RETURN(const std::string* text, GetString(object, "text"));
  if (IsBlank(*text)) return absl::InvalidArgumentError("empty text");
  const auto list = object.find("entities");
  if (list == object.end()) {
    return absl::InvalidArgumentError("missing \"entities\"");
  }
  if (!list->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"entities\" must be a list, not ", list->type_name()));
  }
  const std::u32string code_points = DecodeUtf8(*text);
  const int64_t length = static_cast<int64_t>(code_points.size());
  TaggingExample example;
  example.text = *text;
  example.words = PreTokenize(code_points);
  // For each code point: the word that holds it, or -1 (whitespace).
  std::vector<int> word_at(code_points.size(), -1);
  for (size_t w = 0; w < example.words.size(); ++w) {
    for (int32_t i = example.words[w].begin; i < example.words[w].end; ++i) {
      word_at[i] = static_cast<int>(w);
    }
  }
  std::vector<std::pair<Span, size_t>> entities;  // With their list index.
  for (size_t e = 0; e < list->size(); ++e) {
    const Json& item = (*list)[e];
    const std::string where = absl::StrCat("entities[", e, "]");
    if (!item.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " must be an object, not ", item.type_name()));
    }
    ASSIGN_OR_RETURN(const int64_t start, GetInt(item, "start", where));
    ASSIGN_OR_RETURN(const int64_t end, GetInt(item, "end", where));
    absl::StatusOr<const std::string*> type = GetString(item, "type");
    if (!type.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", type.status().message()));
    }
    const absl::Status type_ok = ValidateEntityType(**type);
    if (!type_ok.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", type_ok.message()));
    }
    const std::string name = EntityName(e, **type, start, end);
    if (start < 0 || end > length || start >= end) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, " is out of range: the text has ", length,
          " code points and an entity needs 0 <= start < end <= length"));
    }
    Span span{static_cast<int32_t>(start), static_cast<int32_t>(end), **type};
    // Both boundaries must fall between words: the start on a word's first
    // code point, the end just after a word's last one.
    const int start_word = word_at[start];
    if (start_word < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " starts on whitespace"));
    }
    if (example.words[start_word].begin != start) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " starts inside the word ",
                       WordForMessage(code_points, example.words[start_word])));
    }
    const int end_word = word_at[end - 1];
    if (end_word < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " ends on whitespace"));
    }
    if (example.words[end_word].end != end) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " ends inside the word ",
                       WordForMessage(code_points, example.words[end_word])));
    }
    entities.push_back({std::move(span), e});
  }
  std::stable_sort(entities.begin(), entities.end(),
                   [](const auto& a, const auto& b) {
                     return a.first.begin < b.first.begin;
                   });
  for (size_t k = 1; k < entities.size(); ++k) {
    const auto& prev = entities[k - 1];
    const auto& cur = entities[k];
    if (cur.first.begin < prev.first.end) {
      return absl::InvalidArgumentError(
          absl::StrCat(EntityName(cur.second, cur.first.type, cur.first.begin,
                                  cur.first.end),
                       " overlaps ",
                       EntityName(prev.second, prev.first.type,
                                  prev.first.begin, prev.first.end)));
    }
  }
  for (auto& [span, index] : entities) {
    example.entities.push_back(std::move(span));
  }
  example.tags = SpansToWordTags(example.words, example.entities);
  dataset->tagging.push_back(std::move(example));
  return absl::OkStatus();
}

absl::Status AddObject(const Json& object, Task task, Dataset* dataset) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a JSON object, got ", object.type_name(),
                     " (JSONL holds one object per line)"));
  }
  if (task == Task::kClassify) return AddClassification(object, dataset);
  const bool has_tokens = object.contains("tokens");
  const bool has_entities = object.contains("entities");
  if (has_tokens && has_entities) {
    return absl::InvalidArgumentError(
        "has both \"tokens\" and \"entities\"; use tokens+tags or "
        "text+entities");
  }
  if (has_tokens) return AddTokensAndTags(object, dataset);
  if (has_entities) return AddTextAndEntities(object, dataset);
  return absl::InvalidArgumentError(
      "a tagging example needs \"tokens\" and \"tags\", or \"text\" and "
      "\"entities\"");
}

}  // namespace

absl::StatusOr<Dataset> ParseJsonl(absl::string_view contents,
                                   absl::string_view source, Task task) {
  Dataset dataset;
  dataset.task = task;
  for (const Line& line : SplitLines(contents)) {
    if (IsBlank(line.text)) continue;
    Json object = Json::parse(line.text.begin(), line.text.end(),
                              /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded()) {
      // Parse again with exceptions for nlohmann's description of the error.
      std::string detail = "syntax error";
      try {
        [[maybe_unused]] const Json again =
            Json::parse(line.text.begin(), line.text.end());
      } catch (const Json::exception& e) {
        detail = e.what();
        // Drop the "[json.exception.parse_error.101] " prefix.
        const size_t bracket = detail.find("] ");
        if (bracket != std::string::npos) detail = detail.substr(bracket + 2);
      }
      return LineError(source, line.number, absl::StrCat("bad JSON: ", detail));
    }
    absl::Status added;
    try {
      added = AddObject(object, task, &dataset);
    } catch (const Json::exception& e) {
      added = absl::InvalidArgumentError(e.what());
    }
    if (!added.ok()) return LineError(source, line.number, added.message());
  }
  return dataset;
}

}  // namespace ptune::datasets

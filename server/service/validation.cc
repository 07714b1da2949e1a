#include "server/service/validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/datasets/text_util.h"

namespace ptune::service {

absl::Status ValidateName(absl::string_view name, absl::string_view field) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be 1-64 characters, got ", name.size()));
  }
  if (!absl::ascii_isalnum(static_cast<unsigned char>(name[0]))) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must start with a letter or digit"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' &&
        c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " may hold only [A-Za-z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTexts(const google::protobuf::RepeatedPtrField<std::string>& texts,
                           const RequestLimits& limits) {
  if (texts.empty()) return absl::InvalidArgumentError("texts must not be empty");
  if (texts.size() > limits.max_texts) {
    return absl::InvalidArgumentError(absl::StrCat(
        "texts has ", texts.size(), " entries; the limit is ", limits.max_texts));
  }
  for (int i = 0; i < texts.size(); ++i) {
    const std::string& text = texts[i];
    if (static_cast<int64_t>(text.size()) > limits.max_text_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("texts[", i, "] has ", text.size(), " bytes; the limit is ",
                       limits.max_text_bytes));
    }
    const int64_t bad = datasets::FindInvalidUtf8(text);
    if (bad >= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("texts[", i, "] is not valid UTF-8 (byte ", bad, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateExampleSizes(const datasets::Dataset& data,
                                  const RequestLimits& limits,
                                  absl::string_view source) {
  for (size_t i = 0; i < data.size(); ++i) {
    const std::string& text = data.text(i);
    if (static_cast<int64_t>(text.size()) > limits.max_text_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": example ", i + 1, " has ", text.size(),
          " bytes of text; the limit is ", limits.max_text_bytes,
          " (--max_text_bytes)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<int>> ParseVersion(int64_t version) {
  if (version < 0 || version > std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "version must be in 0..", std::numeric_limits<int32_t>::max(),
        " (0: the latest ready version), got ", version));
  }
  if (version == 0) return std::optional<int>();
  return std::optional<int>(static_cast<int>(version));
}

absl::Status ValidateId(absl::string_view id, absl::string_view field) {
  if (id.empty() || id.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(field, " must be 1-64 characters"));
  }
  for (char c : id) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '_') {
      return absl::InvalidArgumentError(absl::StrCat(field, " is not a valid id"));
    }
  }
  return absl::OkStatus();
}

}  // namespace ptune::service

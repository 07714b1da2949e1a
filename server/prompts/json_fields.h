// Exception-free JSON reads: optional fields (nlohmann's value() throws when
// a field has another type) and whole files. Internal to server/prompts.
#ifndef PTUNE_SERVER_PROMPTS_JSON_FIELDS_H_
#define PTUNE_SERVER_PROMPTS_JSON_FIELDS_H_

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "server/common/files.h"
#include "server/common/status_macros.h"

namespace ptune::prompts {

// j[key] when j is an object and the field is a string, else `fallback`.
inline std::string StringField(const nlohmann::json& j, const char* key,
                               const std::string& fallback = "") {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// The JSON object in `path`: NOT_FOUND when missing, INVALID_ARGUMENT naming
// the file when it is not a JSON object.
inline absl::StatusOr<nlohmann::json> ReadJsonObject(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, common::ReadFile(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": invalid JSON"));
  }
  return j;
}

}  // namespace ptune::prompts

#endif  // PTUNE_SERVER_PROMPTS_JSON_FIELDS_H_

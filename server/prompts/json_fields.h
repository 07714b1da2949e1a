// Exception-free reads of optional JSON fields (nlohmann's value() throws
// when a field has another type). Internal to server/prompts.
#ifndef PTUNE_SERVER_PROMPTS_JSON_FIELDS_H_
#define PTUNE_SERVER_PROMPTS_JSON_FIELDS_H_

#include <string>

#include <nlohmann/json.hpp>

namespace ptune::prompts {

// j[key] when j is an object and the field is a string, else `fallback`.
inline std::string StringField(const nlohmann::json& j, const char* key,
                               const std::string& fallback = "") {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

}  // namespace ptune::prompts

#endif  // PTUNE_SERVER_PROMPTS_JSON_FIELDS_H_

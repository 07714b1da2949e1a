#include "server/text/tokenizer_files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/text/utf8.h"

namespace ptune::text {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Larger model_max_length values are transformers' "unset" (int(1e30)).
constexpr int64_t kUnsetModelMaxLength = 1'000'000'000;

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read"));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    return absl::InvalidArgumentError(absl::StrCat(path, ": read error"));
  return ss.str();
}

// Records the first syntax error (nlohmann's SAX interface reports it
// without throwing).
class ErrorSax : public nlohmann::json_sax<json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& e) override {
    message = e.what();
    return false;
  }
  std::string message = "syntax error";
};

absl::StatusOr<json> ParseJson(absl::string_view text,
                               absl::string_view source) {
  json j = json::parse(text.begin(), text.end(), nullptr,
                       /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    ErrorSax sax;
    json::sax_parse(text.begin(), text.end(), &sax);
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not valid JSON (", sax.message, ")"));
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not a JSON object"));
  }
  return j;
}

absl::StatusOr<std::optional<json>> ReadOptionalJson(const std::string& path) {
  if (!fs::exists(path)) return std::optional<json>();
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  ASSIGN_OR_RETURN(json j, ParseJson(text, path));
  return std::optional<json>(std::move(j));
}

// j[key] when it is a string, else "".
std::string StringField(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// j[key], or null when absent.
json Field(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() ? json() : *it;
}

absl::Status FieldError(absl::string_view source, absl::string_view field,
                        absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": field \"", field, "\" must be ", expected));
}

// Reads an optional bool field.
absl::Status ReadBool(const json& j, const char* key, absl::string_view source,
                      bool* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_boolean()) return FieldError(source, key, "a boolean");
  *out = it->get<bool>();
  return absl::OkStatus();
}

// A token given as a string or as an AddedToken object {"content": ...}.
absl::Status ReadTokenName(const json& j, const char* key,
                           absl::string_view source, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (it->is_string()) {
    *out = it->get<std::string>();
    return absl::OkStatus();
  }
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string()) {
      *out = content->get<std::string>();
      return absl::OkStatus();
    }
  }
  return FieldError(source, key, "a string or an object with \"content\"");
}

absl::StatusOr<AddedToken> ParseAddedToken(const json& j,
                                           absl::string_view source) {
  if (!j.is_object()) return FieldError(source, "added_tokens", "objects");
  AddedToken t;
  auto content = j.find("content");
  if (content == j.end() || !content->is_string()) {
    return FieldError(source, "content", "a string");
  }
  t.content = content->get<std::string>();
  RETURN_IF_ERROR(ReadBool(j, "single_word", source, &t.single_word));
  RETURN_IF_ERROR(ReadBool(j, "lstrip", source, &t.lstrip));
  RETURN_IF_ERROR(ReadBool(j, "rstrip", source, &t.rstrip));
  RETURN_IF_ERROR(ReadBool(j, "normalized", source, &t.normalized));
  RETURN_IF_ERROR(ReadBool(j, "special", source, &t.special));
  if (auto id = j.find("id"); id != j.end()) {
    if (!id->is_number_unsigned()) return FieldError(source, "id", "an id");
    t.id = static_cast<int32_t>(std::min<uint64_t>(
        id->get<uint64_t>(), std::numeric_limits<int32_t>::max()));
  }
  return t;
}

absl::Status ParseNormalizer(const json& j, absl::string_view source,
                             TokenizerConfig* config) {
  if (j.is_null()) {  // No normalizer: the text is used as is.
    config->clean_text = config->handle_chinese_chars = config->lowercase =
        false;
    config->strip_accents = false;
    return absl::OkStatus();
  }
  if (StringField(j, "type") != "BertNormalizer") {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": unsupported normalizer ",
        j.dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 200),
        " (only BertNormalizer)"));
  }
  RETURN_IF_ERROR(ReadBool(j, "clean_text", source, &config->clean_text));
  RETURN_IF_ERROR(ReadBool(j, "handle_chinese_chars", source,
                           &config->handle_chinese_chars));
  RETURN_IF_ERROR(ReadBool(j, "lowercase", source, &config->lowercase));
  auto strip = j.find("strip_accents");
  if (strip == j.end() || strip->is_null()) {
    config->strip_accents.reset();
  } else if (strip->is_boolean()) {
    config->strip_accents = strip->get<bool>();
  } else {
    return FieldError(source, "strip_accents", "a boolean or null");
  }
  return absl::OkStatus();
}

// [CLS] and [SEP] from a TemplateProcessing "[CLS] $A [SEP]" or a
// BertProcessing post-processor.
absl::Status ParsePostProcessor(const json& j, absl::string_view source,
                                TokenizerConfig* config) {
  const auto unsupported = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat(source,
                     ": unsupported post_processor (need BertProcessing or a "
                     "TemplateProcessing of the form [CLS] $A [SEP])"));
  };
  if (!j.is_object()) return unsupported();
  const std::string type = StringField(j, "type");
  if (type == "BertProcessing") {
    auto cls = j.find("cls");
    auto sep = j.find("sep");
    if (cls == j.end() || sep == j.end() || !cls->is_array() ||
        !sep->is_array() || cls->empty() || sep->empty() ||
        !(*cls)[0].is_string() || !(*sep)[0].is_string()) {
      return unsupported();
    }
    config->cls_token = (*cls)[0].get<std::string>();
    config->sep_token = (*sep)[0].get<std::string>();
    return absl::OkStatus();
  }
  if (type != "TemplateProcessing") return unsupported();
  auto single = j.find("single");
  if (single == j.end() || !single->is_array() || single->size() != 3) {
    return unsupported();
  }
  auto special_id = [](const json& piece) -> std::optional<std::string> {
    auto s = piece.find("SpecialToken");
    if (s == piece.end() || !s->is_object()) return std::nullopt;
    auto id = s->find("id");
    if (id == s->end() || !id->is_string()) return std::nullopt;
    return id->get<std::string>();
  };
  const std::optional<std::string> first = special_id((*single)[0]);
  const std::optional<std::string> last = special_id((*single)[2]);
  if (!first || !last || !(*single)[1].contains("Sequence"))
    return unsupported();
  // The template names a special token; its "tokens" list holds the string.
  auto token_of = [&](const std::string& name) -> std::optional<std::string> {
    auto specials = j.find("special_tokens");
    if (specials == j.end() || !specials->is_object()) return name;
    auto it = specials->find(name);
    if (it == specials->end()) return name;
    auto tokens = it->find("tokens");
    if (tokens == it->end() || !tokens->is_array() || tokens->size() != 1 ||
        !(*tokens)[0].is_string()) {
      return std::nullopt;
    }
    return (*tokens)[0].get<std::string>();
  };
  const std::optional<std::string> cls = token_of(*first);
  const std::optional<std::string> sep = token_of(*last);
  if (!cls || !sep) return unsupported();
  config->cls_token = *cls;
  config->sep_token = *sep;
  return absl::OkStatus();
}

absl::Status ReadTokenizerConfig(const json& j, absl::string_view source,
                                 bool with_normalizer, TokenizerSpec* spec) {
  TokenizerConfig& c = spec->config;
  if (with_normalizer) {
    RETURN_IF_ERROR(ReadBool(j, "do_lower_case", source, &c.lowercase));
    RETURN_IF_ERROR(
        ReadBool(j, "tokenize_chinese_chars", source, &c.handle_chinese_chars));
    auto strip = j.find("strip_accents");
    if (strip != j.end() && !strip->is_null()) {
      if (!strip->is_boolean()) {
        return FieldError(source, "strip_accents", "a boolean or null");
      }
      c.strip_accents = strip->get<bool>();
    }
    RETURN_IF_ERROR(ReadTokenName(j, "unk_token", source, &c.unk_token));
    RETURN_IF_ERROR(ReadTokenName(j, "cls_token", source, &c.cls_token));
    RETURN_IF_ERROR(ReadTokenName(j, "sep_token", source, &c.sep_token));
  }
  RETURN_IF_ERROR(ReadTokenName(j, "pad_token", source, &c.pad_token));
  RETURN_IF_ERROR(ReadTokenName(j, "mask_token", source, &c.mask_token));
  if (auto it = j.find("model_max_length"); it != j.end() && !it->is_null()) {
    if (!it->is_number())
      return FieldError(source, "model_max_length", "a number");
    const double v = it->get<double>();
    if (v < kUnsetModelMaxLength) {
      if (v < 2) return FieldError(source, "model_max_length", "at least 2");
      c.model_max_length = static_cast<int>(v);
    }
  }
  return absl::OkStatus();
}

// vocab.txt: one token per line, id = line index; a repeated token keeps
// its last id (as transformers' load_vocab and tokenizers do).
absl::Status ParseVocabTxt(absl::string_view text, absl::string_view source,
                           TokenizerSpec* spec) {
  if (auto decoded = DecodeUtf8(text); !decoded.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", decoded.status().message()));
  }
  int32_t id = 0;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    absl::string_view line = text.substr(0, eol);
    text = eol == absl::string_view::npos ? absl::string_view()
                                          : text.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    spec->vocab[std::string(line)] = id++;
  }
  if (id == 0)
    return absl::InvalidArgumentError(absl::StrCat(source, ": empty"));
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseTokenizerJson(absl::string_view text,
                                absl::string_view source, TokenizerSpec* spec) {
  ASSIGN_OR_RETURN(json j, ParseJson(text, source));
  TokenizerConfig& c = spec->config;
  RETURN_IF_ERROR(ParseNormalizer(Field(j, "normalizer"), source, &c));
  if (StringField(Field(j, "pre_tokenizer"), "type") != "BertPreTokenizer") {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": unsupported pre_tokenizer (only BertPreTokenizer)"));
  }
  const json model = Field(j, "model");
  if (StringField(model, "type") != "WordPiece") {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": unsupported model (only WordPiece)"));
  }
  RETURN_IF_ERROR(ReadTokenName(model, "unk_token", source, &c.unk_token));
  if (auto it = model.find("continuing_subword_prefix"); it != model.end()) {
    if (!it->is_string()) {
      return FieldError(source, "continuing_subword_prefix", "a string");
    }
    c.continuing_subword_prefix = it->get<std::string>();
  }
  if (auto it = model.find("max_input_chars_per_word"); it != model.end()) {
    if (!it->is_number_unsigned()) {
      return FieldError(source, "max_input_chars_per_word", "an integer");
    }
    c.max_input_chars_per_word = static_cast<int>(std::min<uint64_t>(
        it->get<uint64_t>(), std::numeric_limits<int>::max()));
  }
  auto vocab = model.find("vocab");
  if (vocab == model.end() || !vocab->is_object() || vocab->empty()) {
    return FieldError(source, "model.vocab", "a non-empty object");
  }
  spec->vocab.reserve(vocab->size());
  for (const auto& [token, id] : vocab->items()) {
    if (!id.is_number_unsigned() ||
        id.get<uint64_t>() >
            static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
      return FieldError(source, absl::StrCat("model.vocab[\"", token, "\"]"),
                        "a non-negative id");
    }
    spec->vocab[token] = static_cast<int32_t>(id.get<uint64_t>());
  }
  if (auto added = j.find("added_tokens");
      added != j.end() && !added->is_null()) {
    if (!added->is_array())
      return FieldError(source, "added_tokens", "an array");
    for (const json& a : *added) {
      ASSIGN_OR_RETURN(AddedToken t, ParseAddedToken(a, source));
      if (t.id < 0) return FieldError(source, "added_tokens[].id", "present");
      spec->added_tokens.push_back(std::move(t));
    }
  }
  if (auto post = j.find("post_processor"); post != j.end()) {
    RETURN_IF_ERROR(ParsePostProcessor(*post, source, &c));
  }
  if (auto padding = j.find("padding");
      padding != j.end() && padding->is_object()) {
    RETURN_IF_ERROR(ReadTokenName(*padding, "pad_token", source, &c.pad_token));
  }
  return absl::OkStatus();
}

absl::StatusOr<TokenizerSpec> LoadTokenizerSpec(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat("tokenizer folder \"", dir, "\" does not exist"));
  }
  if (!fs::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer folder \"", dir, "\" is not a directory"));
  }
  const std::string tokenizer_json = dir + "/tokenizer.json";
  const std::string vocab_txt = dir + "/vocab.txt";
  const std::string tokenizer_config = dir + "/tokenizer_config.json";
  const std::string model_config = dir + "/config.json";

  TokenizerSpec spec;
  ASSIGN_OR_RETURN(std::optional<json> tok_config,
                   ReadOptionalJson(tokenizer_config));
  if (fs::exists(tokenizer_json)) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(tokenizer_json));
    RETURN_IF_ERROR(ParseTokenizerJson(text, tokenizer_json, &spec));
    if (tok_config) {
      RETURN_IF_ERROR(ReadTokenizerConfig(*tok_config, tokenizer_config,
                                          /*with_normalizer=*/false, &spec));
    }
  } else if (fs::exists(vocab_txt)) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(vocab_txt));
    RETURN_IF_ERROR(ParseVocabTxt(text, vocab_txt, &spec));
    if (tok_config) {
      RETURN_IF_ERROR(ReadTokenizerConfig(*tok_config, tokenizer_config,
                                          /*with_normalizer=*/true, &spec));
    }
    // transformers makes the special tokens non-normalized added tokens,
    // plus whatever tokenizer_config.json declares in added_tokens_decoder.
    const TokenizerConfig& c = spec.config;
    for (const std::string* name : {&c.pad_token, &c.unk_token, &c.cls_token,
                                    &c.sep_token, &c.mask_token}) {
      auto it = spec.vocab.find(*name);
      if (it == spec.vocab.end()) continue;
      AddedToken t;
      t.content = *name;
      t.id = it->second;
      spec.added_tokens.push_back(std::move(t));
    }
    if (tok_config) {
      auto decoder = tok_config->find("added_tokens_decoder");
      if (decoder != tok_config->end() && decoder->is_object()) {
        for (const auto& [key, value] : decoder->items()) {
          ASSIGN_OR_RETURN(AddedToken t,
                           ParseAddedToken(value, tokenizer_config));
          char* end = nullptr;
          const long id = std::strtol(key.c_str(), &end, 10);
          if (key.empty() || *end != '\0' || id < 0 ||
              id > std::numeric_limits<int32_t>::max()) {
            return FieldError(tokenizer_config, "added_tokens_decoder",
                              "keyed by ids");
          }
          t.id = static_cast<int32_t>(id);
          spec.added_tokens.push_back(std::move(t));
        }
      }
    }
  } else {
    return absl::NotFoundError(
        absl::StrCat(dir, ": neither tokenizer.json nor vocab.txt is present"));
  }

  ASSIGN_OR_RETURN(std::optional<json> model, ReadOptionalJson(model_config));
  if (model) {
    auto it = model->find("max_position_embeddings");
    if (it != model->end() && !it->is_null()) {
      if (!it->is_number_integer() || it->get<int64_t>() < 2) {
        return FieldError(model_config, "max_position_embeddings",
                          "an integer of at least 2");
      }
      spec.config.model_max_length = static_cast<int>(
          std::min<int64_t>(spec.config.model_max_length, it->get<int64_t>()));
    }
  }
  return spec;
}

}  // namespace ptune::text

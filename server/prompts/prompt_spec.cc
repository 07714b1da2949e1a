#include "server/prompts/prompt_spec.h"

#include <array>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/status_macros.h"
#include "server/prompts/prompt_template.h"

namespace ptune::prompts {
namespace {

using nlohmann::json;

template <typename E, size_t N>
using NameTable = std::array<std::pair<const char*, E>, N>;

constexpr NameTable<PromptKind, 2> kKinds{
    {{"shallow", PromptKind::kShallow}, {"deep", PromptKind::kDeep}}};
constexpr NameTable<Placement, 3> kPlacements{
    {{"prefix", Placement::kPrefix},
     {"infix", Placement::kInfix},
     {"prefix_infix", Placement::kPrefixInfix}}};
constexpr NameTable<Reparam, 2> kReparams{
    {{"none", Reparam::kNone}, {"mlp", Reparam::kMlp}}};
constexpr NameTable<PromptInit, 4> kInits{{{"random", PromptInit::kRandom},
                                           {"vocab", PromptInit::kVocab},
                                           {"text", PromptInit::kText},
                                           {"prompt", PromptInit::kPrompt}}};
constexpr NameTable<HeadPooling, 3> kPoolings{{{"cls", HeadPooling::kCls},
                                               {"mean", HeadPooling::kMean},
                                               {"mask", HeadPooling::kMask}}};

template <typename E, size_t N>
absl::StatusOr<E> Parse(const NameTable<E, N>& table, absl::string_view name,
                        absl::string_view what) {
  std::vector<std::string> names;
  for (const auto& [n, value] : table) {
    if (name == n) return value;
    names.push_back(n);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown ", what, " \"", name, "\" (", absl::StrJoin(names, ", "), ")"));
}

template <typename E, size_t N>
const char* Name(const NameTable<E, N>& table, E value) {
  for (const auto& [n, v] : table) {
    if (v == value) return n;
  }
  return "?";
}

}  // namespace

absl::StatusOr<PromptKind> ParsePromptKind(absl::string_view name) {
  return Parse(kKinds, name, "prompt kind");
}
absl::StatusOr<Placement> ParsePlacement(absl::string_view name) {
  return Parse(kPlacements, name, "placement");
}
absl::StatusOr<Reparam> ParseReparam(absl::string_view name) {
  return Parse(kReparams, name, "reparameterization");
}
absl::StatusOr<PromptInit> ParsePromptInit(absl::string_view name) {
  return Parse(kInits, name, "prompt init");
}
absl::StatusOr<HeadPooling> ParseHeadPooling(absl::string_view name) {
  return Parse(kPoolings, name, "pooling");
}

absl::Status ValidatePromptSpec(const PromptSpec& spec,
                                const backbone::BertConfig& config) {
  const int max_length = static_cast<int>(config.max_position_embeddings / 2);
  if (spec.length < 1 || spec.length > max_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prompt length ", spec.length, " outside [1, ", max_length,
        "] (half of the backbone's positions stay for the text)"));
  }
  if (spec.kind == PromptKind::kDeep && spec.placement != Placement::kPrefix) {
    return absl::InvalidArgumentError(
        "deep prompts are key/value prefixes: placement must be prefix");
  }
  if (spec.placement == Placement::kPrefixInfix && spec.length < 2) {
    return absl::InvalidArgumentError(
        "placement prefix_infix needs a prompt length of at least 2");
  }
  if (spec.placement != Placement::kPrefix && spec.infix_position != 1) {
    // Only "right after [CLS]" is defined for every text; other positions
    // would land inside words.
    return absl::InvalidArgumentError("infix_position must be 1 (after [CLS])");
  }
  if (spec.kind == PromptKind::kDeep &&
      (spec.init == PromptInit::kVocab || spec.init == PromptInit::kText)) {
    return absl::InvalidArgumentError(
        "init vocab/text apply to shallow prompts (token embeddings); deep "
        "prompts start random or from another prompt");
  }
  if (spec.init == PromptInit::kText && spec.init_text.empty()) {
    return absl::InvalidArgumentError("init text needs init_text");
  }
  if (spec.init == PromptInit::kPrompt && spec.init_prompt.empty()) {
    return absl::InvalidArgumentError("init prompt needs init_prompt");
  }
  if (spec.reparam == Reparam::kMlp &&
      (spec.mlp_hidden < 1 || spec.mlp_hidden > 8192)) {
    return absl::InvalidArgumentError("mlp_hidden outside [1, 8192]");
  }
  if (!spec.template_text.empty()) {
    ASSIGN_OR_RETURN(const PromptTemplate tmpl, ParsePromptTemplate(spec.template_text));
    if (spec.kind == PromptKind::kShallow && tmpl.soft_tokens != spec.length) {
      return absl::InvalidArgumentError(absl::StrCat(
          "template has ", tmpl.soft_tokens, " soft tokens; the shallow prompt length is ",
          spec.length, " (they must agree)"));
    }
    if (spec.kind == PromptKind::kDeep && tmpl.soft_tokens > 0) {
      return absl::InvalidArgumentError(
          "<soft:N> runs need a shallow prompt; a deep prompt's template holds hard text only");
    }
    if (spec.pooling == HeadPooling::kMask && !tmpl.has_mask) {
      return absl::InvalidArgumentError("pooling mask needs a [MASK] in the template");
    }
  } else if (spec.pooling == HeadPooling::kMask) {
    return absl::InvalidArgumentError("pooling mask needs a template with [MASK]");
  }
  if (!spec.verbalizer.empty() && spec.pooling != HeadPooling::kMask) {
    return absl::InvalidArgumentError("a verbalizer needs pooling mask");
  }
  if (spec.l2 < 0 || spec.l2 > 10) {
    return absl::InvalidArgumentError("l2 outside [0, 10]");
  }
  if (spec.dropout < 0 || spec.dropout >= 1) {
    return absl::InvalidArgumentError("dropout outside [0, 1)");
  }
  return absl::OkStatus();
}

bool DefaultCaseEmbeddings(datasets::Task task) {
  return task == datasets::Task::kTag;
}

json PromptSpecToJson(const PromptSpec& spec) {
  return json{{"kind", Name(kKinds, spec.kind)},
              {"length", spec.length},
              {"placement", Name(kPlacements, spec.placement)},
              {"infix_position", spec.infix_position},
              {"reparam", Name(kReparams, spec.reparam)},
              {"mlp_hidden", spec.mlp_hidden},
              {"init", Name(kInits, spec.init)},
              {"init_text", spec.init_text},
              {"init_prompt", spec.init_prompt},
              {"l2", spec.l2},
              {"dropout", spec.dropout},
              {"pooling", Name(kPoolings, spec.pooling)},
              {"template", spec.template_text},
              {"verbalizer", spec.verbalizer},
              {"case_embeddings", spec.case_embeddings}};
}

absl::StatusOr<PromptSpec> PromptSpecFromJson(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("spec: not an object");
  PromptSpec spec;
  const auto str = [&](const char* key, std::string* out) -> absl::Status {
    auto it = j.find(key);
    if (it == j.end()) return absl::OkStatus();
    if (!it->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec.", key, " must be a string"));
    }
    *out = it->get<std::string>();
    return absl::OkStatus();
  };
  const auto num = [&](const char* key, auto* out) -> absl::Status {
    auto it = j.find(key);
    if (it == j.end()) return absl::OkStatus();
    if (!it->is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec.", key, " must be a number"));
    }
    *out = it->get<std::decay_t<decltype(*out)>>();
    return absl::OkStatus();
  };
  std::string kind = "deep", placement = "prefix", reparam = "none",
              init = "random", pooling = "cls";  // artifacts before pooling was recorded
  RETURN_IF_ERROR(str("kind", &kind));
  RETURN_IF_ERROR(str("placement", &placement));
  RETURN_IF_ERROR(str("reparam", &reparam));
  RETURN_IF_ERROR(str("init", &init));
  RETURN_IF_ERROR(str("pooling", &pooling));
  RETURN_IF_ERROR(str("init_text", &spec.init_text));
  RETURN_IF_ERROR(str("init_prompt", &spec.init_prompt));
  RETURN_IF_ERROR(str("template", &spec.template_text));
  if (auto it = j.find("verbalizer"); it != j.end()) {
    if (!it->is_array()) return absl::InvalidArgumentError("spec.verbalizer must be a list");
    for (const json& word : *it) {
      if (!word.is_string()) {
        return absl::InvalidArgumentError("spec.verbalizer must hold strings");
      }
      spec.verbalizer.push_back(word.get<std::string>());
    }
  }
  if (auto it = j.find("case_embeddings"); it != j.end()) {
    if (!it->is_boolean()) {
      return absl::InvalidArgumentError("spec.case_embeddings must be true or false");
    }
    spec.case_embeddings = it->get<bool>();
  }
  RETURN_IF_ERROR(num("length", &spec.length));
  RETURN_IF_ERROR(num("infix_position", &spec.infix_position));
  RETURN_IF_ERROR(num("mlp_hidden", &spec.mlp_hidden));
  RETURN_IF_ERROR(num("l2", &spec.l2));
  RETURN_IF_ERROR(num("dropout", &spec.dropout));
  ASSIGN_OR_RETURN(spec.kind, ParsePromptKind(kind));
  ASSIGN_OR_RETURN(spec.placement, ParsePlacement(placement));
  ASSIGN_OR_RETURN(spec.reparam, ParseReparam(reparam));
  ASSIGN_OR_RETURN(spec.init, ParsePromptInit(init));
  ASSIGN_OR_RETURN(spec.pooling, ParseHeadPooling(pooling));
  return spec;
}

}  // namespace ptune::prompts

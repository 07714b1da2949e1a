// PromptSpec: what a tenant's prompt is (ARCHITECTURE §1) — kind, length,
// placement, initialization, reparameterization, regularization, and the
// classification pooling. A plain value type, serialized as JSON in every
// prompt artifact.
#ifndef PTUNE_SERVER_PROMPTS_PROMPT_SPEC_H_
#define PTUNE_SERVER_PROMPTS_PROMPT_SPEC_H_

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/backbone/bert_config.h"
#include "server/datasets/dataset.h"

namespace ptune::prompts {

// shallow: m virtual-token embeddings in the input (prompt tuning).
// deep: per-layer key/value prefixes of length m (prefix tuning, P-tuning v2).
enum class PromptKind { kShallow, kDeep };
// Shallow only: before [CLS] (prefix, as PEFT), after [CLS] at
// `infix_position` (infix), or half of the vectors at each (prefix_infix).
enum class Placement { kPrefix, kInfix, kPrefixInfix };
// Training-time reparameterization: P = MLP(Z) (two layers, tanh), collapsed
// into plain vectors when training ends.
enum class Reparam { kNone, kMlp };
// random; vocab: sampled token embeddings; text: the embeddings of
// `init_text`, repeated or cut to m; prompt: a copy of another prompt.
enum class PromptInit { kRandom, kVocab, kText, kPrompt };
// Classification head input: [CLS] state, mask-aware mean of text tokens,
// or the state at the template's [MASK] slot (a learned verbalizer).
enum class HeadPooling { kCls, kMean, kMask };

struct PromptSpec {
  PromptKind kind = PromptKind::kDeep;
  int length = 16;
  Placement placement = Placement::kPrefix;
  int infix_position = 1;
  Reparam reparam = Reparam::kNone;
  int mlp_hidden = 256;
  PromptInit init = PromptInit::kRandom;
  std::string init_text;    // init = text
  std::string init_prompt;  // init = prompt: the source artifact folder
  double l2 = 0.0;          // λ in loss + λ‖P‖²
  double dropout = 0.0;     // Bernoulli mask on P, training only
  // Mean by default: the default backbone is a sentence-transformer trained
  // on mean-pooled states, and the sweep of tests/bench/README.md section 19
  // chose it on SST-2, fine foods and BBC News. Tagging reads every token.
  HeadPooling pooling = HeadPooling::kMean;
  // Optional template mixing hard text and soft runs around the input
  // (prompt_template.h), e.g. "<soft:4> {text} It was [MASK] .".
  std::string template_text;
  // Label words, one per label in label order: the head's rows start from
  // their embeddings (pooling mask only).
  std::vector<std::string> verbalizer;
  // Case embeddings: a learned vector per text::WordCase class, added to
  // every text token's input embedding. Gives an uncased backbone the
  // capitalization its tokenizer drops (names, organizations). Trained with
  // the prompt from zeros; not part of PEFT's adapter format.
  bool case_embeddings = false;
};

// Whether a prompt for `task` gets case embeddings when the caller does not
// say: yes for tagging (measured on CoNLL-2003 and WNUT-17 with the uncased
// default backbone: tests/bench/README.md §4), no for classification.
bool DefaultCaseEmbeddings(datasets::Task task);

// Checks the spec against a backbone (length fits the positions, dims).
absl::Status ValidatePromptSpec(const PromptSpec& spec,
                                const backbone::BertConfig& config);

nlohmann::json PromptSpecToJson(const PromptSpec& spec);
absl::StatusOr<PromptSpec> PromptSpecFromJson(const nlohmann::json& json);

// Parsers for command-line and API values ("deep", "prefix_infix", ...).
absl::StatusOr<PromptKind> ParsePromptKind(absl::string_view name);
absl::StatusOr<Placement> ParsePlacement(absl::string_view name);
absl::StatusOr<Reparam> ParseReparam(absl::string_view name);
absl::StatusOr<PromptInit> ParsePromptInit(absl::string_view name);
absl::StatusOr<HeadPooling> ParseHeadPooling(absl::string_view name);

}  // namespace ptune::prompts

#endif  // PTUNE_SERVER_PROMPTS_PROMPT_SPEC_H_

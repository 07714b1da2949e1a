// Export and import of ptune prompts in the Hugging Face PEFT adapter layout
// (peft 0.10.0: adapter_config.json + adapter_model.safetensors), so that a
// prompt trained here loads with PeftModel.from_pretrained(base_model, dir)
// and a PEFT prompt-learning adapter serves here.
//
// Mapping (PEFT key / shape <-> ptune):
//   shallow, prefix placement <-> PROMPT_TUNING: "prompt_embeddings" [m, H].
//   deep [L, 2, m, H] <-> PREFIX_TUNING: "prompt_embeddings" [m, L*2*H], row
//     j = [layer0 key | layer0 value | layer1 key | ...] of virtual token j.
//   head <-> "base_model.classifier.weight" [C, H], ".bias" [C] (the
//     modules_to_save copy of BertFor*Classification.classifier).
//
// Semantics. Every export is TOKEN_CLS (BertForTokenClassification: the
// linear head over each token's last hidden state), which is exactly ptune's
// head over text states:
//   * tag: PEFT's logits at the text positions are ptune's tag logits.
//   * classify: PEFT's SEQ_CLS classifier reads BERT's pooler (dense + tanh
//     over the FIRST position, a virtual token under prompt tuning), which
//     ptune's head does not have, so a classification prompt is exported as
//     TOKEN_CLS too: ptune's classification logits are PEFT's token logits at
//     [CLS] (pooling cls) or their attention-mask mean over the text tokens
//     (pooling mean). With prompt tuning PEFT's logits also cover the m
//     virtual positions first: text token t is at index m + t.
// A sidecar <dir>/ptune_export.json (PEFT ignores it) keeps the task, label
// names, spec and backbone identity so that ImportPeftAdapter restores the
// model exactly.
//
// Thread-safety: the functions share no state; the PromptModel passed to
// ExportPeftAdapter must not be trained concurrently.
#ifndef PTUNE_SERVER_PROMPTS_PEFT_FORMAT_H_
#define PTUNE_SERVER_PROMPTS_PEFT_FORMAT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/backbone/backbone.h"
#include "server/prompts/prompt_model.h"

namespace ptune::prompts {

struct PeftExportOptions {
  // adapter_config.json's base_model_name_or_path (only AutoPeftModel* reads
  // it); empty = backbone.name().
  std::string base_model_name_or_path;
};

// Writes <dir>/adapter_config.json, <dir>/adapter_model.safetensors and
// <dir>/ptune_export.json so that PEFT (peft==0.10.0) loads the prompt with
// PeftModel.from_pretrained(BertForTokenClassification(num_labels=C), dir).
// FAILED_PRECONDITION for a shallow prompt that is not a plain prefix
// (infix placements have no PEFT equivalent).
absl::Status ExportPeftAdapter(const PromptModel& model,
                               const backbone::Backbone& backbone,
                               const std::string& dir,
                               const PeftExportOptions& options = {});

struct PeftImportOptions {
  // A SEQ_CLS adapter's classifier reads BERT's pooler output, which ptune's
  // head cannot reproduce, so such adapters are refused (FAILED_PRECONDITION)
  // unless this is set: then only the prompt is imported, as a classify
  // model with a zero head (to train, or to use as another spec's
  // init_prompt after Save).
  bool seq_cls_prompt_only = false;
};

// Reads a PEFT adapter folder into a PromptModel. Accepted: peft_type
// PROMPT_TUNING or P_TUNING (saved collapsed: [m, H]) and PREFIX_TUNING
// (saved collapsed even with prefix_projection: [m, L*2*H]); task_type
// TOKEN_CLS (a tag model, or what ptune_export.json says) or SEQ_CLS (see
// PeftImportOptions); num_transformer_submodules 1; token_dim, num_layers and
// num_attention_heads of `backbone`. Labels: `labels` when not empty (one per
// head row), else those of ptune_export.json (PEFT stores no label names).
// NOT_FOUND for missing files; INVALID_ARGUMENT for broken or unsupported
// content; FAILED_PRECONDITION for an adapter made for another backbone.
absl::StatusOr<std::unique_ptr<PromptModel>> ImportPeftAdapter(
    const backbone::Backbone& backbone, const std::string& dir,
    std::vector<std::string> labels, const PeftImportOptions& options = {});

}  // namespace ptune::prompts

#endif  // PTUNE_SERVER_PROMPTS_PEFT_FORMAT_H_

// Mixed batches: one encoder forward over rows that each carry their OWN
// prompt (shallow of any length and placement, deep, or none) and their own
// head. This is what lets one backbone forward serve, or train, many
// tenants at once: shallow prompts are padded to the batch's longest and
// gathered per row into the input, deep prompts become per-row key/value
// prefixes (padded with zeros and masked by per-row lengths), and each row's
// head reads only that row's text tokens. A row's logits equal the
// single-prompt path (PromptModel::Logits on the row alone) up to float
// rounding, whatever else is in the batch.
//
// Thread-safety: plain functions; the PromptModels must not be modified
// while a batch built from them is in use. Rows point at their models, never
// own them.
#ifndef PTUNE_SERVER_PROMPTS_MIXED_BATCH_H_
#define PTUNE_SERVER_PROMPTS_MIXED_BATCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "server/backbone/backbone.h"
#include "server/backbone/encoder_io.h"
#include "server/prompts/prompt_model.h"
#include "server/text/tokenizer.h"

namespace ptune::prompts {

// One row of a mixed batch: the tokens of one text as its own prompt
// tokenized it.
struct MixedRow {
  const PromptModel* model = nullptr;
  text::Encoding encoding;
  // Set when the prompt has a template: where its soft runs go. Empty =
  // the spec's placement (prefix / infix / prefix_infix).
  std::vector<backbone::PromptSegment> template_segments;
  int32_t slot_position = -1;  // [MASK] token (pooling mask)
  // Optional: the row's prompt already computed (model->Prompt(...)), e.g.
  // with the training job's own dropout mask. Undefined = computed here once
  // per distinct model. Rows of one model should share one tensor.
  at::Tensor prompt;
};

// The collated batch plus what the heads need afterwards.
struct MixedBatch {
  backbone::EncoderInput input;
  std::vector<const PromptModel*> models;  // per row
  std::vector<int32_t> text_lengths;       // per row: text tokens
  std::vector<int32_t> slot_positions;     // per row, -1 = none
  // Stats for metrics: rows, real text tokens, padded text slots (B * T),
  // and the prompt vectors the rows carry (shallow + deep).
  int64_t rows = 0;
  int64_t real_tokens = 0;
  int64_t padded_tokens = 0;
  int64_t prompt_tokens = 0;
  double padding_ratio() const {
    return padded_tokens > 0
               ? 1.0 - static_cast<double>(real_tokens) / padded_tokens
               : 0.0;
  }
};

// The rows for `texts` read by `model`: plainly, or laid into its template;
// each keeps at most min(max_tokens, model.MaxTextTokens) tokens (0 = no
// limit but the model's).
absl::StatusOr<std::vector<MixedRow>> MakeMixedRows(
    const backbone::Backbone& backbone, const PromptModel& model,
    const std::vector<std::string>& texts, int max_tokens);

// The rows of an already tokenized batch of `model` (e.g. a training batch).
std::vector<MixedRow> MixedRowsFromTokens(const PromptModel& model,
                                          const backbone::TokenBatch& batch);

// Collates rows (each with its own prompt: shallow of any length/placement,
// deep, or mixed) into one encoder input; autograd flows into every row's
// prompt when training (and prompt dropout applies to prompts computed
// here).
absl::StatusOr<MixedBatch> MakeMixedBatch(const backbone::Backbone& backbone,
                                          std::vector<MixedRow> rows,
                                          bool training);

// One forward for all rows, then each row's own head: per row,
// classification logits [C_row] or tagging logits [T_row, K_row] over that
// row's text tokens.
absl::StatusOr<std::vector<at::Tensor>> MixedLogits(
    const backbone::Backbone& backbone, const MixedBatch& batch, bool training);

}  // namespace ptune::prompts

#endif  // PTUNE_SERVER_PROMPTS_MIXED_BATCH_H_

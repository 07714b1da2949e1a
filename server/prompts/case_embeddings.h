// Case embeddings (PromptSpec::case_embeddings): per text token, the row of
// its prompt's case table for the token's text::WordCase, as the [B, T, H]
// EncoderInput::added_embeddings. Internal to server/prompts (PromptModel
// and mixed batches share it). Stateless; thread-safe.
#ifndef PTUNE_SERVER_PROMPTS_CASE_EMBEDDINGS_H_
#define PTUNE_SERVER_PROMPTS_CASE_EMBEDDINGS_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "server/text/tokenizer.h"

namespace ptune::prompts {

// `tables` is [U, kNumWordCases, H]: one case table per distinct prompt (a
// zero table for rows whose prompt has none). Row r of the batch reads
// tables[row_table[r]]; its tokens pick the row of their word case
// (padding up to `t` tokens picks kNone). Differentiable in `tables`.
at::Tensor GatherCaseEmbeddings(const at::Tensor& tables,
                                const std::vector<text::Encoding>& rows,
                                const std::vector<int64_t>& row_table, int64_t t);

}  // namespace ptune::prompts

#endif  // PTUNE_SERVER_PROMPTS_CASE_EMBEDDINGS_H_

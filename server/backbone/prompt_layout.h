// Where each position of a row's combined sequence (text tokens + shallow
// prompt vectors) comes from. Pure CPU bookkeeping, computed once per batch
// before the forward; kept apart from the modules so it can be tested alone.
#ifndef PTUNE_SERVER_BACKBONE_PROMPT_LAYOUT_H_
#define PTUNE_SERVER_BACKBONE_PROMPT_LAYOUT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "server/backbone/encoder_io.h"

namespace ptune::backbone {

struct PromptLayout {
  int64_t batch = 0;
  int64_t seq_len = 0;  // S: the longest combined row
  // [B*S] index into the row's concatenation [text tokens (T) | prompt (M)];
  // padding positions point at index 0 and are masked.
  std::vector<int64_t> source;
  std::vector<uint8_t> mask;            // [B*S] 1 = real position
  std::vector<int64_t> token_type;      // [B*S] 0 for prompt vectors
  std::vector<int64_t> text_positions;  // [B*T] position of text token t
};

// `row_lengths[b]` = number of real text tokens of row b (<= T);
// `token_types` is [B*T] or empty (zeros); `prompt_rows` = M.
absl::StatusOr<PromptLayout> BuildPromptLayout(
    const std::vector<int64_t>& row_lengths, int64_t max_tokens,
    const std::vector<int64_t>& token_types,
    const std::vector<std::vector<PromptSegment>>& segments,
    int64_t prompt_rows);

}  // namespace ptune::backbone

#endif  // PTUNE_SERVER_BACKBONE_PROMPT_LAYOUT_H_

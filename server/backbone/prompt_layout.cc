#include "server/backbone/prompt_layout.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ptune::backbone {

absl::StatusOr<PromptLayout> BuildPromptLayout(
    const std::vector<int64_t>& row_lengths, int64_t max_tokens,
    const std::vector<int64_t>& token_types,
    const std::vector<std::vector<PromptSegment>>& segments,
    int64_t prompt_rows) {
  const int64_t batch = static_cast<int64_t>(row_lengths.size());
  if (!segments.empty() && static_cast<int64_t>(segments.size()) != batch) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shallow prompts: ", segments.size(), " segment lists for ", batch,
        " rows"));
  }
  if (!token_types.empty() &&
      static_cast<int64_t>(token_types.size()) != batch * max_tokens) {
    return absl::InvalidArgumentError("token_type_ids shape mismatch");
  }
  // Sort each row's segments by insertion point (stable: equal points keep
  // the caller's order) and check them against the row.
  std::vector<std::vector<PromptSegment>> sorted(batch);
  int64_t seq_len = 0;
  for (int64_t b = 0; b < batch; ++b) {
    int64_t total = row_lengths[b];
    if (total < 0 || total > max_tokens) {
      return absl::InvalidArgumentError(
          absl::StrCat("row ", b, ": length ", total, " outside [0, ", max_tokens, "]"));
    }
    if (!segments.empty()) sorted[b] = segments[b];
    std::stable_sort(sorted[b].begin(), sorted[b].end(),
                     [](const PromptSegment& x, const PromptSegment& y) {
                       return x.before_token < y.before_token;
                     });
    for (const PromptSegment& s : sorted[b]) {
      if (s.length < 0 || s.source_begin < 0 ||
          s.source_begin + s.length > prompt_rows || s.before_token < 0 ||
          s.before_token > row_lengths[b]) {
        return absl::InvalidArgumentError(absl::StrCat(
            "row ", b, ": prompt segment (before_token=", s.before_token,
            ", source_begin=", s.source_begin, ", length=", s.length,
            ") outside the row (", row_lengths[b], " tokens) or the prompt (",
            prompt_rows, " vectors)"));
      }
      total += s.length;
    }
    seq_len = std::max(seq_len, total);
  }

  PromptLayout layout;
  layout.batch = batch;
  layout.seq_len = seq_len;
  layout.source.assign(batch * seq_len, 0);
  layout.mask.assign(batch * seq_len, 0);
  layout.token_type.assign(batch * seq_len, 0);
  layout.text_positions.assign(batch * max_tokens, 0);
  for (int64_t b = 0; b < batch; ++b) {
    int64_t out = b * seq_len;
    auto next = sorted[b].begin();
    const auto emit_segments_before = [&](int64_t token) {
      for (; next != sorted[b].end() && next->before_token == token; ++next) {
        for (int32_t i = 0; i < next->length; ++i) {
          layout.source[out] = max_tokens + next->source_begin + i;
          layout.mask[out] = 1;
          ++out;
        }
      }
    };
    for (int64_t t = 0; t < row_lengths[b]; ++t) {
      emit_segments_before(t);
      layout.text_positions[b * max_tokens + t] = out - b * seq_len;
      layout.source[out] = t;
      layout.mask[out] = 1;
      if (!token_types.empty()) {
        layout.token_type[out] = token_types[b * max_tokens + t];
      }
      ++out;
    }
    emit_segments_before(row_lengths[b]);
  }
  return layout;
}

}  // namespace ptune::backbone

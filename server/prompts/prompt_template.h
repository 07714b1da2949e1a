// Templates that mix hard text and soft tokens around the input, e.g.
//   "<soft:4> {text} It was [MASK] ."
// Pieces: `{text}` (exactly once: the user's text), `<soft:N>` (N prompt
// vectors, taken in order from the shallow prompt), and hard text (tokenized
// like any text; `[MASK]` marks the verbalizer slot). Every row starts with
// [CLS] and ends with [SEP]. Classification only.
#ifndef PTUNE_SERVER_PROMPTS_PROMPT_TEMPLATE_H_
#define PTUNE_SERVER_PROMPTS_PROMPT_TEMPLATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/backbone/encoder_io.h"
#include "server/text/tokenizer.h"

namespace ptune::prompts {

struct PromptTemplate {
  struct Piece {
    enum class Kind { kText, kHard, kSoft };
    Kind kind = Kind::kHard;
    std::string hard;  // kHard
    int soft = 0;      // kSoft: number of vectors
  };
  std::vector<Piece> pieces;
  int soft_tokens = 0;  // sum of the <soft:N>
  bool has_mask = false;
};

absl::StatusOr<PromptTemplate> ParsePromptTemplate(absl::string_view spec);

// One text laid into a template: its tokens (the text's own tokens keep
// their offsets; template tokens get (0, 0)), where the soft runs go, and the
// token index of [MASK] (-1 when none). The text is truncated so that the
// row keeps at most `max_tokens` tokens.
struct TemplatedText {
  text::Encoding encoding;
  std::vector<backbone::PromptSegment> segments;
  int32_t mask_position = -1;
};

absl::StatusOr<TemplatedText> ApplyTemplate(const PromptTemplate& tmpl,
                                            const text::Tokenizer& tokenizer,
                                            absl::string_view text,
                                            int max_tokens);

}  // namespace ptune::prompts

#endif  // PTUNE_SERVER_PROMPTS_PROMPT_TEMPLATE_H_

#include "server/prompts/prompt_template.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/text/word_case.h"

namespace ptune::prompts {
namespace {

constexpr absl::string_view kText = "{text}";
constexpr absl::string_view kSoftOpen = "<soft:";
constexpr int kMaxSoftRun = 256;

}  // namespace

absl::StatusOr<PromptTemplate> ParsePromptTemplate(absl::string_view spec) {
  PromptTemplate tmpl;
  int text_pieces = 0;
  std::string hard;
  const auto flush_hard = [&] {
    if (hard.find_first_not_of(" \t") != std::string::npos) {
      tmpl.pieces.push_back({PromptTemplate::Piece::Kind::kHard, hard, 0});
      if (hard.find("[MASK]") != std::string::npos) tmpl.has_mask = true;
    }
    hard.clear();
  };
  for (size_t i = 0; i < spec.size();) {
    const absl::string_view rest = spec.substr(i);
    if (absl::StartsWith(rest, kText)) {
      flush_hard();
      tmpl.pieces.push_back({PromptTemplate::Piece::Kind::kText, "", 0});
      ++text_pieces;
      i += kText.size();
    } else if (absl::StartsWith(rest, kSoftOpen)) {
      const size_t close = rest.find('>');
      int n = 0;
      if (close == absl::string_view::npos ||
          !absl::SimpleAtoi(rest.substr(kSoftOpen.size(), close - kSoftOpen.size()), &n) ||
          n < 1 || n > kMaxSoftRun) {
        return absl::InvalidArgumentError(absl::StrCat(
            "template: malformed soft run at character ", i,
            " (expected <soft:N> with 1 <= N <= ", kMaxSoftRun, ")"));
      }
      flush_hard();
      tmpl.pieces.push_back({PromptTemplate::Piece::Kind::kSoft, "", n});
      tmpl.soft_tokens += n;
      i += close + 1;
    } else {
      hard.push_back(spec[i]);
      ++i;
    }
  }
  flush_hard();
  if (text_pieces != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "template must contain {text} exactly once, found ", text_pieces));
  }
  return tmpl;
}

absl::StatusOr<TemplatedText> ApplyTemplate(const PromptTemplate& tmpl,
                                            const text::Tokenizer& tokenizer,
                                            absl::string_view text,
                                            int max_tokens) {
  // Tokenize every piece without specials, then budget the text.
  std::vector<text::Encoding> pieces(tmpl.pieces.size());
  int fixed = 2;  // [CLS], [SEP]
  for (size_t i = 0; i < tmpl.pieces.size(); ++i) {
    const auto& piece = tmpl.pieces[i];
    if (piece.kind == PromptTemplate::Piece::Kind::kSoft) continue;
    const absl::string_view source =
        piece.kind == PromptTemplate::Piece::Kind::kText ? text : piece.hard;
    ASSIGN_OR_RETURN(pieces[i], tokenizer.Encode(source, 0, /*add_special_tokens=*/false));
    if (piece.kind == PromptTemplate::Piece::Kind::kHard) {
      fixed += static_cast<int>(pieces[i].ids.size());
    }
  }
  if (max_tokens > 0 && fixed >= max_tokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "template needs ", fixed, " tokens, more than the ", max_tokens,
        " available"));
  }
  TemplatedText out;
  text::Encoding& enc = out.encoding;
  const auto push = [&](int32_t id, std::pair<int32_t, int32_t> offset,
                        std::pair<int32_t, int32_t> bytes, int32_t word,
                        uint8_t word_case) {
    enc.ids.push_back(id);
    enc.offsets.push_back(offset);
    enc.byte_offsets.push_back(bytes);
    enc.word_ids.push_back(word);
    enc.word_case.push_back(word_case);
  };
  // Template text is the prompt's, not the input's: no word case.
  constexpr uint8_t kNoCase = static_cast<uint8_t>(text::WordCase::kNone);
  push(tokenizer.cls_id(), {0, 0}, {0, 0}, -1, kNoCase);
  int32_t soft_begin = 0;
  for (size_t i = 0; i < tmpl.pieces.size(); ++i) {
    const auto& piece = tmpl.pieces[i];
    switch (piece.kind) {
      case PromptTemplate::Piece::Kind::kSoft:
        out.segments.push_back({static_cast<int32_t>(enc.ids.size()), soft_begin, piece.soft});
        soft_begin += piece.soft;
        break;
      case PromptTemplate::Piece::Kind::kHard:
        for (int32_t id : pieces[i].ids) {
          if (id == tokenizer.mask_id() && out.mask_position < 0) {
            out.mask_position = static_cast<int32_t>(enc.ids.size());
          }
          push(id, {0, 0}, {0, 0}, -1, kNoCase);
        }
        break;
      case PromptTemplate::Piece::Kind::kText: {
        const text::Encoding& t = pieces[i];
        size_t keep = t.ids.size();
        if (max_tokens > 0) {
          keep = std::min(keep, static_cast<size_t>(max_tokens - fixed));
          enc.truncated = keep < t.ids.size();
        }
        for (size_t k = 0; k < keep; ++k) {
          push(t.ids[k], t.offsets[k], t.byte_offsets[k], t.word_ids[k],
               t.word_case[k]);
        }
        break;
      }
    }
  }
  push(tokenizer.sep_id(), {0, 0}, {0, 0}, -1, kNoCase);
  // A soft run placed at the very end sits before [SEP].
  for (auto& segment : out.segments) {
    segment.before_token = std::min<int32_t>(
        segment.before_token, static_cast<int32_t>(enc.ids.size()) - 1);
  }
  return out;
}

}  // namespace ptune::prompts

#include "server/text/bert_normalizer.h"

#include "server/text/unicode_props.h"

namespace ptune::text {
namespace {

void Push(NormalizedText* t, char32_t c, int32_t source) {
  t->chars.push_back(c);
  t->source.push_back(source);
}

// One code point of an NFD output: `first` is whether it is the first code
// point of its character's decomposition (HF's "change" 0 rather than 1).
struct Piece {
  char32_t c;
  uint8_t ccc;
  bool first;
};

}  // namespace

void BertNormalizer::Normalize(const char32_t* text, size_t n,
                               int32_t first_source, NormalizedText* out,
                               NormalizedText* scratch) const {
  // clean_text and handle_chinese_chars are per code point.
  NormalizedText& stage = *scratch;
  stage.clear();
  for (size_t i = 0; i < n; ++i) {
    char32_t c = text[i];
    const int32_t source = first_source + static_cast<int32_t>(i);
    if (clean_text_) {
      if (c == 0 || c == 0xFFFD || IsControl(c)) continue;
      if (IsWhitespace(c)) c = ' ';
    }
    if (handle_chinese_chars_ && IsChineseChar(c)) {
      Push(&stage, ' ', source);
      Push(&stage, c, source);
      Push(&stage, ' ', source);
    } else {
      Push(&stage, c, source);
    }
  }
  const size_t out_begin = out->size();
  if (strip_accents_) {
    StripAccents(stage, out);
  } else {
    out->chars.insert(out->chars.end(), stage.chars.begin(), stage.chars.end());
    out->source.insert(out->source.end(), stage.source.begin(),
                       stage.source.end());
  }
  if (lowercase_) {
    // U+0130 is the only code point that lowercases to two; rebuild the
    // tail only when it occurs.
    bool expands = false;
    for (size_t i = out_begin; i < out->size() && !expands; ++i) {
      expands = out->chars[i] == 0x130;
    }
    if (!expands) {
      for (size_t i = out_begin; i < out->size(); ++i) {
        char32_t lower[2];
        ToLowercase(out->chars[i], lower);
        out->chars[i] = lower[0];
      }
    } else {
      NormalizedText tail;
      for (size_t i = out_begin; i < out->size(); ++i) {
        char32_t lower[2];
        const int k = ToLowercase(out->chars[i], lower);
        for (int j = 0; j < k; ++j) Push(&tail, lower[j], out->source[i]);
      }
      out->chars.resize(out_begin);
      out->source.resize(out_begin);
      out->chars.insert(out->chars.end(), tail.chars.begin(), tail.chars.end());
      out->source.insert(out->source.end(), tail.source.begin(),
                         tail.source.end());
    }
  }
}

void BertNormalizer::StripAccents(const NormalizedText& in,
                                  NormalizedText* out) {
  // Decompose, reordering each run of non-starters by combining class with
  // a stable insertion (what unicode-normalization-alignments' stable sort
  // of its pending buffer yields).
  std::vector<Piece> pieces;
  pieces.reserve(in.size() + 8);
  size_t run_start = 0;
  for (char32_t c : in.chars) {
    char32_t d[kMaxDecomposition];
    const int k = CanonicalDecomposition(c, d);
    for (int j = 0; j < k; ++j) {
      const uint8_t ccc = CombiningClass(d[j]);
      const Piece piece{d[j], ccc, j == 0};
      if (ccc == 0) {
        run_start = pieces.size();
        pieces.push_back(piece);
        continue;
      }
      size_t pos = pieces.size();
      while (pos > run_start && pieces[pos - 1].ccc > ccc) --pos;
      pieces.insert(pieces.begin() + pos, piece);
    }
  }
  // HF's transform: a "first" piece takes the alignment of the next
  // original character in order, any other piece that of the last one taken,
  // whatever the reordering did. Then nonspacing marks are dropped.
  size_t next = 0;
  for (const Piece& p : pieces) {
    int32_t source;
    if (p.first || next == 0) {
      source = in.source[next < in.size() ? next : in.size() - 1];
      if (p.first) ++next;
    } else {
      source = in.source[next - 1];
    }
    if (!IsNonspacingMark(p.c)) Push(out, p.c, source);
  }
}

}  // namespace ptune::text

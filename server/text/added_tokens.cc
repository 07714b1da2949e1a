#include "server/text/added_tokens.h"

#include <algorithm>
#include <utility>

#include "server/text/unicode_props.h"

namespace ptune::text {

void AddedTokenMatcher::Add(std::u32string pattern, const AddedToken& token) {
  if (pattern.empty()) return;
  const char32_t first = pattern[0];
  patterns_.push_back({std::move(pattern), token.id, token.single_word,
                       token.lstrip, token.rstrip});
  std::vector<size_t>& candidates = by_first_[first];
  candidates.push_back(patterns_.size() - 1);
  // Longest first; ties keep insertion order (identical contents).
  std::stable_sort(
      candidates.begin(), candidates.end(), [this](size_t a, size_t b) {
        return patterns_[a].chars.size() > patterns_[b].chars.size();
      });
}

void AddedTokenMatcher::FindMatches(const char32_t* text, size_t n,
                                    std::vector<AddedTokenMatch>* out) const {
  if (patterns_.empty()) return;
  size_t previous_end = 0;  // HF's start_offset: end of the last kept split
  size_t i = 0;
  while (i < n) {
    auto it = by_first_.find(text[i]);
    const Pattern* found = nullptr;
    if (it != by_first_.end()) {
      for (size_t index : it->second) {
        const Pattern& p = patterns_[index];
        if (p.chars.size() <= n - i &&
            std::equal(p.chars.begin(), p.chars.end(), text + i)) {
          found = &p;
          break;
        }
      }
    }
    if (found == nullptr) {
      ++i;
      continue;
    }
    size_t begin = i;
    size_t end = i + found->chars.size();
    i = end;  // Matches never overlap, kept or not.
    if (found->single_word) {
      const bool space_before = begin == 0 || !IsWordChar(text[begin - 1]);
      const bool space_after = end == n || !IsWordChar(text[end]);
      if (!space_before || !space_after) continue;
    }
    if (found->lstrip) {
      while (begin > 0 && IsWhitespace(text[begin - 1])) --begin;
      begin = std::max(begin, previous_end);
    }
    if (found->rstrip) {
      while (end < n && IsWhitespace(text[end])) ++end;
    }
    out->push_back({begin, end, found->id});
    previous_end = end;
  }
}

}  // namespace ptune::text

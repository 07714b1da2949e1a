// Finding added tokens (HF AddedVocabulary) in a code point sequence:
// leftmost-longest, non-overlapping matches like HF's Aho-Corasick
// (MatchKind::LeftmostLongest), then the single_word / lstrip / rstrip rules.
// Immutable after construction; thread-safe.
#ifndef PTUNE_SERVER_TEXT_ADDED_TOKENS_H_
#define PTUNE_SERVER_TEXT_ADDED_TOKENS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/text/tokenizer_spec.h"

namespace ptune::text {

// An added token found at code points [begin, end).
struct AddedTokenMatch {
  size_t begin;
  size_t end;
  int32_t id;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;

  // Adds a pattern: `pattern` is the token content (for normalized tokens,
  // the content after normalization). Empty patterns are ignored.
  void Add(std::u32string pattern, const AddedToken& token);

  bool empty() const { return patterns_.empty(); }

  // Appends the matches in `text[0, n)`, in order, to `out`.
  void FindMatches(const char32_t* text, size_t n,
                   std::vector<AddedTokenMatch>* out) const;

 private:
  struct Pattern {
    std::u32string chars;
    int32_t id;
    bool single_word;
    bool lstrip;
    bool rstrip;
  };
  std::vector<Pattern> patterns_;
  // First code point -> indices into patterns_, longest pattern first.
  absl::flat_hash_map<char32_t, std::vector<size_t>> by_first_;
};

}  // namespace ptune::text

#endif  // PTUNE_SERVER_TEXT_ADDED_TOKENS_H_

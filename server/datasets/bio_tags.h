// BIO tag handling shared by the dataset readers and by training
// (server/training/bio.h builds on these): tag validation, the chunking rules
// of seqeval's default (conlleval-compatible) mode, IOB1 -> IOB2
// normalization, and the mapping between per-word tags and entity spans.
// Stateless; thread-safe.
#ifndef PTUNE_SERVER_DATASETS_BIO_TAGS_H_
#define PTUNE_SERVER_DATASETS_BIO_TAGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/datasets/dataset.h"

namespace ptune::datasets {

// A validated tag: prefix 'O' (type empty), 'B' or 'I'.
struct BioTag {
  char prefix = 'O';
  std::string type;
};

// OK when `type` can be an entity type: not empty, no whitespace or control
// characters (ASCII), at most 64 bytes.
absl::Status ValidateEntityType(absl::string_view type);

// Parses "O", "B-<type>" or "I-<type>" (exact case; the type is everything
// after the first '-' and may itself contain '-', e.g. "B-creative-work").
// INVALID_ARGUMENT with the reason otherwise ("X-PER", "B-", "b-PER", "PER").
absl::StatusOr<BioTag> ParseBioTag(absl::string_view tag);

// Same check without building a BioTag.
bool IsValidBioTag(absl::string_view tag);

// An entity found in a tag sequence: words [begin, end) of type `type`.
struct TagChunk {
  std::string type;
  int begin = 0;
  int end = 0;

  friend bool operator==(const TagChunk& a, const TagChunk& b) {
    return a.type == b.type && a.begin == b.begin && a.end == b.end;
  }
};

// The entities of one sentence's tags, in order, by seqeval's default
// (non-strict) chunking, which is conlleval's: B-X always starts an entity;
// I-X continues an entity of type X and otherwise (after O, at the start, or
// after another type) starts one; O ends one. Any string is accepted, as
// seqeval does: its first character is the prefix (B/I/E/S/O; "" counts as
// "O") and the text after the first '-' that follows it is the type ("_" when
// empty), so the result equals seqeval.metrics.sequence_labeling.get_entities
// on this sentence for every input.
std::vector<TagChunk> ChunkTags(const std::vector<std::string>& tags);

// IOB2 form of valid BIO tags (check them with ParseBioTag first): every
// entity of ChunkTags starts with B-, so IOB1 "I-PER I-PER B-PER" becomes
// "B-PER I-PER B-PER" and a stray "O I-LOC" becomes "O B-LOC".
std::vector<std::string> ToIob2(const std::vector<std::string>& tags);

// Entity spans in code points from word spans and the chunks over those
// words (chunks past the last word are cut off).
std::vector<Span> ChunksToSpans(const std::vector<Span>& words,
                                const std::vector<TagChunk>& chunks);

// IOB2 tags, one per word, for entity spans over word spans: a word belongs
// to the first entity (in begin order) that it overlaps; the first word of an
// entity gets B-<type>, the others I-<type>, words in no entity O.
std::vector<std::string> SpansToWordTags(const std::vector<Span>& words,
                                         const std::vector<Span>& entities);

}  // namespace ptune::datasets

#endif  // PTUNE_SERVER_DATASETS_BIO_TAGS_H_

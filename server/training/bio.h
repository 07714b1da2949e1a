// BIO tagging helpers for the entity tagger: the label set a tagging head
// predicts over, tag validation, and conversion between per-word tags and
// entity spans (in code points). Built on server/datasets/bio_tags.h, which
// the dataset readers share. Stateless; thread-safe.
#ifndef PTUNE_SERVER_TRAINING_BIO_H_
#define PTUNE_SERVER_TRAINING_BIO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/datasets/dataset.h"

namespace ptune::training {

using ::ptune::datasets::Span;

// Entity spans from word spans and one tag per word. Invalid BIO is repaired
// the conlleval way (seqeval's default chunking): an I-X that cannot continue
// an entity of type X starts one, and any tag not starting with B/I is
// treated as seqeval does (see datasets::ChunkTags). Words without a tag
// (tags shorter than words) count as O; extra tags are ignored.
std::vector<Span> TagsToSpans(const std::vector<Span>& words,
                              const std::vector<std::string>& tags);

// IOB2 tags, one per word, for entity spans: a word belongs to the first
// entity (by begin) that it overlaps; the first word of an entity is B-, the
// rest I-, all others O.
std::vector<std::string> SpansToTags(const std::vector<Span>& words,
                                     const std::vector<Span>& entities);

// Returns `tag` when it is "O", "B-<type>" or "I-<type>" (type: non-empty,
// no whitespace or control characters, at most 64 bytes); INVALID_ARGUMENT
// with the reason otherwise.
absl::StatusOr<std::string> NormalizeTag(absl::string_view tag);

// The best tag sequence under BIO constraints (Viterbi): `scores` holds
// n x labels.size() log-probabilities (row-major, one row per word); an I-X
// may only follow B-X or I-X. Returns label indices. Unlike argmax, the
// result never needs repair.
std::vector<int> ConstrainedBioDecode(const std::vector<float>& scores, int n,
                                      const std::vector<std::string>& labels);

// The tag vocabulary of a tagging head: "O", then "B-T", "I-T" for each
// distinct type in sorted (bytewise) order. Index i of the result is class i.
std::vector<std::string> BioLabelSet(
    const std::vector<std::string>& entity_types);

}  // namespace ptune::training

#endif  // PTUNE_SERVER_TRAINING_BIO_H_

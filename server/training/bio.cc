#include "server/training/bio.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "server/datasets/bio_tags.h"

namespace ptune::training {

std::vector<Span> TagsToSpans(const std::vector<Span>& words,
                              const std::vector<std::string>& tags) {
  std::vector<std::string> padded = tags;
  padded.resize(words.size(), "O");
  return datasets::ChunksToSpans(words, datasets::ChunkTags(padded));
}

std::vector<std::string> SpansToTags(const std::vector<Span>& words,
                                     const std::vector<Span>& entities) {
  return datasets::SpansToWordTags(words, entities);
}

absl::StatusOr<std::string> NormalizeTag(absl::string_view tag) {
  const absl::StatusOr<datasets::BioTag> parsed = datasets::ParseBioTag(tag);
  if (!parsed.ok()) return parsed.status();
  return std::string(tag);
}

std::vector<std::string> BioLabelSet(
    const std::vector<std::string>& entity_types) {
  const std::set<std::string> sorted(entity_types.begin(), entity_types.end());
  std::vector<std::string> labels = {"O"};
  for (const std::string& type : sorted) {
    labels.push_back(absl::StrCat("B-", type));
    labels.push_back(absl::StrCat("I-", type));
  }
  return labels;
}

}  // namespace ptune::training

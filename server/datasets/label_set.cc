#include "server/datasets/label_set.h"

#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/datasets/bio_tags.h"

namespace ptune::datasets {

absl::Status ValidateLabelNames(const std::vector<std::string>& names,
                                const std::string& field) {
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty() || names[i].size() > kMaxLabelBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, "[", i, "] must be 1-", kMaxLabelBytes, " bytes"));
    }
    if (!seen.insert(names[i]).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, "[", i, "] \"", names[i], "\" is a duplicate"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLabelSet(Task task, const std::vector<std::string>& labels,
                              int max_labels) {
  if (static_cast<int64_t>(labels.size()) > max_labels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the head would have ", labels.size(), " ",
        task == Task::kTag ? "tags" : "labels", "; the limit is ", max_labels,
        " (--max_labels)"));
  }
  if (task == Task::kClassify) {
    if (labels.size() < 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "classification needs at least 2 labels, got ", labels.size()));
    }
    return ValidateLabelNames(labels, "labels");
  }
  // Tagging: per type, which of B-/I- it has.
  absl::flat_hash_map<std::string, int> prefixes;  // bit 1: B, bit 2: I
  int outside = 0;
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!seen.insert(labels[i]).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("tag ", labels[i], " appears twice"));
    }
    absl::StatusOr<BioTag> tag = ParseBioTag(labels[i]);
    if (!tag.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tags[", i, "]: ", tag.status().message()));
    }
    if (tag->prefix == 'O') {
      ++outside;
    } else {
      prefixes[tag->type] |= tag->prefix == 'B' ? 1 : 2;
    }
  }
  if (outside != 1) {
    return absl::InvalidArgumentError("a tag set needs the tag O exactly once");
  }
  if (prefixes.empty()) {
    return absl::InvalidArgumentError(
        "a tag set needs at least one entity type (B-X and I-X); the training "
        "data has no entities");
  }
  // Report the first offender in a stable (sorted) order.
  const std::set<std::pair<std::string, int>> sorted(prefixes.begin(), prefixes.end());
  for (const auto& [type, bits] : sorted) {
    if (bits != 3) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entity type ", type, " needs both B-", type, " and I-", type));
    }
  }
  return absl::OkStatus();
}

}  // namespace ptune::datasets

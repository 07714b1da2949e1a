// The label set of a head, checked the same way on every path that creates
// one (training, labels derived from data, import, load). Stateless;
// thread-safe.
#ifndef PTUNE_SERVER_DATASETS_LABEL_SET_H_
#define PTUNE_SERVER_DATASETS_LABEL_SET_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "server/datasets/dataset.h"

namespace ptune::datasets {

// Bytes of one classification label.
inline constexpr size_t kMaxLabelBytes = 128;

// OK when `labels` can be the classes of a head for `task`, else
// INVALID_ARGUMENT naming the first problem:
//  - at most `max_labels` classes (the cost of a row's head and of tag
//    decoding grows with it; the message names --max_labels);
//  - no duplicates;
//  - classification: at least 2 labels of 1..kMaxLabelBytes bytes;
//  - tagging: the tag set of a BIO head: valid tags ("O", "B-<type>",
//    "I-<type>"), exactly one "O", at least one entity type, and B-X and
//    I-X always together.
absl::Status ValidateLabelSet(Task task, const std::vector<std::string>& labels,
                              int max_labels);

// OK when `names` (labels to classify into, or entity types to tag) has no
// duplicates and no empty or over-long entry; `field` names the list in the
// message.
absl::Status ValidateLabelNames(const std::vector<std::string>& names,
                                const std::string& field);

}  // namespace ptune::datasets

#endif  // PTUNE_SERVER_DATASETS_LABEL_SET_H_

// Reproducible train/validation splits of a Dataset. Stateless; thread-safe.
#ifndef PTUNE_SERVER_DATASETS_SPLIT_H_
#define PTUNE_SERVER_DATASETS_SPLIT_H_

#include <cstdint>
#include <utility>

#include "absl/status/statusor.h"
#include "server/datasets/dataset.h"

namespace ptune::datasets {

// Splits `dataset` into (train, valid). The validation part gets
// round(size * valid_fraction) examples, at least 1 and at most size - 1, so
// both parts are non-empty; it needs 0 < valid_fraction < 1 and at least two
// examples (INVALID_ARGUMENT otherwise).
//
// The result depends only on the examples, the fraction and `seed` -- the
// same on every platform (the shuffle uses the portable Random of random.h).
// Classification is stratified: each label gets its proportional share of
// the validation part (largest remainders), and every label keeps at least
// one training example whenever the requested size allows. Both parts keep
// the original task and the full `labels` list, so label indices agree
// between them. Examples appear in shuffled order.
absl::StatusOr<std::pair<Dataset, Dataset>> SplitDataset(const Dataset& dataset,
                                                         double valid_fraction,
                                                         uint64_t seed);

}  // namespace ptune::datasets

#endif  // PTUNE_SERVER_DATASETS_SPLIT_H_

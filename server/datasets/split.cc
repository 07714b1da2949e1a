#include "server/datasets/split.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/datasets/random.h"

namespace ptune::datasets {
namespace {

// How many validation examples each label group gets: `target` in all,
// proportional to the group sizes by largest remainders (integer arithmetic,
// ties to the earlier group), each group keeping one example for training
// while that is possible.
std::vector<size_t> AllocateValidation(const std::vector<size_t>& sizes,
                                       size_t total, size_t target) {
  const size_t groups = sizes.size();
  std::vector<size_t> take(groups);
  std::vector<size_t> remainder(groups);
  size_t assigned = 0;
  for (size_t g = 0; g < groups; ++g) {
    const size_t cap = sizes[g] - 1;
    // sizes[g] * target <= total^2 fits in 64 bits for total < 2^32.
    take[g] = std::min(sizes[g] * target / total, cap);
    remainder[g] = sizes[g] * target % total;
    assigned += take[g];
  }
  std::vector<size_t> order(groups);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return remainder[a] > remainder[b];
  });
  // First pass: respect the one-for-training cap; second: drop it.
  for (int pass = 0; pass < 2 && assigned < target; ++pass) {
    bool progress = true;
    while (assigned < target && progress) {
      progress = false;
      for (const size_t g : order) {
        if (assigned == target) break;
        const size_t cap = pass == 0 ? sizes[g] - 1 : sizes[g];
        if (take[g] < cap) {
          ++take[g];
          ++assigned;
          progress = true;
        }
      }
    }
  }
  return take;
}

}  // namespace

absl::StatusOr<std::pair<Dataset, Dataset>> SplitDataset(const Dataset& dataset,
                                                         double valid_fraction,
                                                         uint64_t seed) {
  const size_t n = dataset.size();
  if (!(valid_fraction > 0.0 && valid_fraction < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("valid_fraction must be between 0 and 1 (exclusive), got ",
                     valid_fraction));
  }
  if (n < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot split a dataset of ", n,
                     " example(s): both parts need at least one"));
  }
  const double wanted = std::round(static_cast<double>(n) * valid_fraction);
  const size_t target =
      static_cast<size_t>(std::clamp(wanted, 1.0, static_cast<double>(n - 1)));

  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  Random random(seed);
  random.Shuffle(&order);

  std::vector<bool> in_valid(n, false);
  if (dataset.task == Task::kClassify) {
    // Group by label (in label order), members in shuffled order.
    std::map<std::string, size_t> group_of;
    for (const ClassificationExample& e : dataset.classification) {
      group_of.emplace(e.label, 0);
    }
    size_t next = 0;
    for (auto& [label, group] : group_of) group = next++;
    std::vector<std::vector<size_t>> members(group_of.size());
    for (const size_t i : order) {
      members[group_of[dataset.classification[i].label]].push_back(i);
    }
    std::vector<size_t> sizes;
    for (const auto& m : members) sizes.push_back(m.size());
    const std::vector<size_t> take = AllocateValidation(sizes, n, target);
    for (size_t g = 0; g < members.size(); ++g) {
      for (size_t k = 0; k < take[g]; ++k) in_valid[members[g][k]] = true;
    }
  } else {
    for (size_t k = 0; k < target; ++k) in_valid[order[k]] = true;
  }

  std::pair<Dataset, Dataset> parts;
  for (Dataset* part : {&parts.first, &parts.second}) {
    part->task = dataset.task;
    part->labels = dataset.labels;
  }
  for (const size_t i : order) {
    Dataset& part = in_valid[i] ? parts.second : parts.first;
    if (dataset.task == Task::kClassify) {
      part.classification.push_back(dataset.classification[i]);
    } else {
      part.tagging.push_back(dataset.tagging[i]);
    }
  }
  return parts;
}

}  // namespace ptune::datasets

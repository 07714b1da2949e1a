#include "server/training/bio.h"

#include <algorithm>
#include <set>

#include "absl/container/flat_hash_map.h"
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

std::vector<int> ConstrainedBioDecode(const std::vector<float>& scores, int n,
                                      const std::vector<std::string>& labels) {
  const int k = static_cast<int>(labels.size());
  if (n <= 0 || k == 0) return {};
  // BIO transitions are sparse: only an I-X is constrained (it may follow
  // B-X or I-X, and cannot start a sentence); every other label may follow
  // anything. So each step needs the overall best previous label plus, per
  // type, the best of its B-X / I-X: O(k) per word instead of O(k^2).
  // group[t]: for an I-X label, the index of type X among the B/I types;
  // member[t]: the type index a B-X or I-X label contributes to (-1: none).
  std::vector<int> group(k, -1), member(k, -1);
  absl::flat_hash_map<std::string, int> type_index;
  const auto type_of = [&](const std::string& tag) {
    return type_index.try_emplace(tag.substr(2), static_cast<int>(type_index.size()))
        .first->second;
  };
  for (int t = 0; t < k; ++t) {
    const std::string& tag = labels[t];
    if (tag.size() > 2 && (tag[0] == 'B' || tag[0] == 'I')) member[t] = type_of(tag);
    if (tag.rfind("I-", 0) == 0) group[t] = type_of(tag);
  }
  const int types = static_cast<int>(type_index.size());
  constexpr double kImpossible = -1e30;
  std::vector<double> best(k), next(k), type_best(types);
  std::vector<int> type_arg(types);
  std::vector<int> back(static_cast<size_t>(n) * k, 0);
  for (int t = 0; t < k; ++t) best[t] = group[t] < 0 ? scores[t] : kImpossible;
  for (int i = 1; i < n; ++i) {
    double top = kImpossible;
    int top_arg = 0;
    std::fill(type_best.begin(), type_best.end(), kImpossible);
    std::fill(type_arg.begin(), type_arg.end(), 0);
    for (int from = 0; from < k; ++from) {
      const double b = best[from];
      if (b <= kImpossible) continue;
      if (b > top) {
        top = b;
        top_arg = from;
      }
      const int m = member[from];
      if (m >= 0 && b > type_best[m]) {
        type_best[m] = b;
        type_arg[m] = from;
      }
    }
    for (int to = 0; to < k; ++to) {
      const double prev = group[to] < 0 ? top : type_best[group[to]];
      const int arg = group[to] < 0 ? top_arg : type_arg[group[to]];
      next[to] = prev <= kImpossible ? kImpossible : prev + scores[i * k + to];
      back[i * k + to] = arg;
    }
    best.swap(next);
  }
  std::vector<int> path(n);
  path[n - 1] = static_cast<int>(std::max_element(best.begin(), best.end()) - best.begin());
  for (int i = n - 1; i > 0; --i) path[i - 1] = back[i * k + path[i]];
  return path;
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

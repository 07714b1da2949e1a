#include "server/training/bio.h"

#include <algorithm>
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

std::vector<int> ConstrainedBioDecode(const std::vector<float>& scores, int n,
                                      const std::vector<std::string>& labels) {
  const int k = static_cast<int>(labels.size());
  if (n <= 0 || k == 0) return {};
  // allowed[from][to]: I-X needs B-X or I-X before it; the first word has
  // "O" before it.
  std::vector<char> is_inside(k), allowed(k * k, 1), starts(k, 1);
  for (int to = 0; to < k; ++to) {
    const std::string& tag = labels[to];
    if (tag.rfind("I-", 0) != 0) continue;
    const std::string type = tag.substr(2);
    starts[to] = 0;
    for (int from = 0; from < k; ++from) {
      const std::string& prev = labels[from];
      allowed[from * k + to] =
          prev.size() > 2 && prev.substr(2) == type && (prev[0] == 'B' || prev[0] == 'I');
    }
  }
  constexpr double kImpossible = -1e30;
  std::vector<double> best(k), next(k);
  std::vector<int> back(static_cast<size_t>(n) * k, 0);
  for (int t = 0; t < k; ++t) best[t] = starts[t] ? scores[t] : kImpossible;
  for (int i = 1; i < n; ++i) {
    for (int to = 0; to < k; ++to) {
      double top = kImpossible;
      int arg = 0;
      for (int from = 0; from < k; ++from) {
        if (!allowed[from * k + to] || best[from] <= kImpossible) continue;
        if (best[from] > top) {
          top = best[from];
          arg = from;
        }
      }
      next[to] = top <= kImpossible ? kImpossible : top + scores[i * k + to];
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

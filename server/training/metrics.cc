#include "server/training/metrics.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "server/datasets/bio_tags.h"

namespace ptune::training {
namespace {

using datasets::Span;

// Precision, recall and F1 from counts, computed as seqeval/numpy do
// (f1 = 2 * p * r / (p + r), 0 when undefined) so that results agree to
// the last bit.
void SetScores(int64_t gold, int64_t predicted, int64_t correct,
               double* precision, double* recall, double* f1) {
  *precision = predicted > 0 ? static_cast<double>(correct) /
                                   static_cast<double>(predicted)
                             : 0.0;
  *recall =
      gold > 0 ? static_cast<double>(correct) / static_cast<double>(gold) : 0.0;
  const double denominator = *precision + *recall;
  *f1 = denominator > 0 ? 2.0 * *precision * *recall / denominator : 0.0;
}

using SpanKey = std::tuple<int32_t, int32_t, std::string>;

std::set<SpanKey> SpanSet(const std::vector<Span>& spans) {
  std::set<SpanKey> out;
  for (const Span& s : spans) out.emplace(s.begin, s.end, s.type);
  return out;
}

// Word-index spans of the chunks of one sentence's tags.
std::vector<Span> ChunkSpans(const std::vector<std::string>& tags) {
  std::vector<Span> spans;
  for (const datasets::TagChunk& chunk : datasets::ChunkTags(tags)) {
    spans.push_back({chunk.begin, chunk.end, chunk.type});
  }
  return spans;
}

}  // namespace

double Accuracy(const std::vector<int>& gold, const std::vector<int>& pred) {
  const size_t total = std::max(gold.size(), pred.size());
  if (total == 0) return 0.0;
  const size_t common = std::min(gold.size(), pred.size());
  int64_t correct = 0;
  for (size_t i = 0; i < common; ++i) correct += gold[i] == pred[i] ? 1 : 0;
  return static_cast<double>(correct) / static_cast<double>(total);
}

double MacroF1(const std::vector<int>& gold, const std::vector<int>& pred,
               int num_classes) {
  (void)num_classes;  // Only labels present are averaged (see header).
  struct Counts {
    int64_t tp = 0, fp = 0, fn = 0;
  };
  std::map<int, Counts> counts;
  const size_t total = std::max(gold.size(), pred.size());
  for (size_t i = 0; i < total; ++i) {
    const bool has_gold = i < gold.size();
    const bool has_pred = i < pred.size();
    if (has_gold && has_pred && gold[i] == pred[i]) {
      ++counts[gold[i]].tp;
      continue;
    }
    if (has_gold) ++counts[gold[i]].fn;
    if (has_pred) ++counts[pred[i]].fp;
  }
  if (counts.empty()) return 0.0;
  double sum = 0.0;
  for (const auto& [label, c] : counts) {
    const int64_t denominator = 2 * c.tp + c.fp + c.fn;
    sum += denominator > 0 ? static_cast<double>(2 * c.tp) /
                                 static_cast<double>(denominator)
                           : 0.0;
  }
  return sum / static_cast<double>(counts.size());
}

ClassificationScores ScoreClassification(const std::vector<int>& gold,
                                         const std::vector<int>& pred, int num_classes) {
  ClassificationScores scores;
  scores.accuracy = Accuracy(gold, pred);
  scores.macro_f1 = MacroF1(gold, pred, num_classes);
  const size_t n = static_cast<size_t>(std::max(num_classes, 0));
  scores.per_label.resize(n);
  scores.confusion.assign(n * n, 0);
  const auto in_range = [n](int label) { return label >= 0 && static_cast<size_t>(label) < n; };
  for (size_t i = 0; i < std::min(gold.size(), pred.size()); ++i) {
    if (in_range(gold[i])) ++scores.per_label[gold[i]].support;
    if (in_range(pred[i])) ++scores.per_label[pred[i]].predicted;
    if (in_range(gold[i]) && in_range(pred[i])) {
      ++scores.confusion[gold[i] * n + pred[i]];
      if (gold[i] == pred[i]) ++scores.per_label[gold[i]].correct;
    }
  }
  for (ClassScores& s : scores.per_label) {
    const auto ratio = [](int64_t a, int64_t b) {
      return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
    };
    s.precision = ratio(s.correct, s.predicted);
    s.recall = ratio(s.correct, s.support);
    s.f1 = ratio(2 * s.correct, s.support + s.predicted);
  }
  return scores;
}

EntityScores ScoreSpans(const std::vector<std::vector<Span>>& gold_spans,
                        const std::vector<std::vector<Span>>& pred_spans) {
  EntityScores scores;
  const size_t sentences = std::max(gold_spans.size(), pred_spans.size());
  for (size_t i = 0; i < sentences; ++i) {
    const std::set<SpanKey> gold =
        i < gold_spans.size() ? SpanSet(gold_spans[i]) : std::set<SpanKey>();
    const std::set<SpanKey> pred =
        i < pred_spans.size() ? SpanSet(pred_spans[i]) : std::set<SpanKey>();
    for (const SpanKey& g : gold) ++scores.per_type[std::get<2>(g)].support;
    for (const SpanKey& p : pred) {
      ClassScores& type = scores.per_type[std::get<2>(p)];
      ++type.predicted;
      if (gold.count(p) > 0) ++type.correct;
    }
  }
  for (auto& [type, s] : scores.per_type) {
    SetScores(s.support, s.predicted, s.correct, &s.precision, &s.recall,
              &s.f1);
    scores.gold += s.support;
    scores.predicted += s.predicted;
    scores.correct += s.correct;
  }
  SetScores(scores.gold, scores.predicted, scores.correct, &scores.precision,
            &scores.recall, &scores.f1);
  return scores;
}

EntityScores ScoreEntities(
    const std::vector<std::vector<std::string>>& gold_tags,
    const std::vector<std::vector<std::string>>& pred_tags) {
  std::vector<std::vector<Span>> gold;
  std::vector<std::vector<Span>> pred;
  gold.reserve(gold_tags.size());
  pred.reserve(pred_tags.size());
  for (const auto& tags : gold_tags) gold.push_back(ChunkSpans(tags));
  for (const auto& tags : pred_tags) pred.push_back(ChunkSpans(tags));
  return ScoreSpans(gold, pred);
}

}  // namespace ptune::training

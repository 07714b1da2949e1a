// Evaluation metrics for prompt tuning: accuracy and macro-F1 for
// classification (scikit-learn semantics) and entity-level precision /
// recall / F1 for tagging (seqeval's default mode, i.e. conlleval).
// Stateless functions; thread-safe.
#ifndef PTUNE_SERVER_TRAINING_METRICS_H_
#define PTUNE_SERVER_TRAINING_METRICS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "server/datasets/dataset.h"

namespace ptune::training {

// Fraction of positions where gold and pred agree (sklearn accuracy_score).
// 0 when gold is empty. Lists of different lengths: positions present in
// only one list count as wrong (the denominator is the longer length).
double Accuracy(const std::vector<int>& gold, const std::vector<int>& pred);

// Macro-averaged F1 as sklearn's f1_score(average="macro"): the unweighted
// mean, over the labels present in gold or pred, of each label's F1
// = 2 tp / (2 tp + fp + fn), a label with tp = 0 contributing 0. Labels that
// occur in neither list are not averaged, so `num_classes` (the size of the
// label set, labels being 0 .. num_classes - 1) does not change the result;
// labels outside that range are scored like any other. 0 when both lists
// are empty. Different lengths: an unmatched gold label is a false negative,
// an unmatched prediction a false positive.
double MacroF1(const std::vector<int>& gold, const std::vector<int>& pred,
               int num_classes);

// Precision, recall and F1 of one class — a classification label, or an
// entity type — and the counts they come from: gold examples (entities) of
// the class, those predicted as it, and those predicted right (for an
// entity: exact span and type). 0 where undefined (sklearn's
// precision_recall_fscore_support with zero_division=0, seqeval's default).
struct ClassScores {
  double precision = 0;
  double recall = 0;
  double f1 = 0;
  int64_t support = 0;
  int64_t predicted = 0;
  int64_t correct = 0;
};

// A classification report: accuracy, macro-F1 (as MacroF1), every label's
// scores in label order and the confusion matrix
// (confusion[g * num_classes + p]: examples of gold label g predicted as p,
// as sklearn's confusion_matrix).
struct ClassificationScores {
  double accuracy = 0;
  double macro_f1 = 0;
  std::vector<ClassScores> per_label;
  std::vector<int64_t> confusion;
};

// Labels are 0 .. num_classes - 1 and gold and pred have one entry per
// example (same length); an entry outside that range is counted in accuracy
// and macro-F1 only.
ClassificationScores ScoreClassification(const std::vector<int>& gold,
                                         const std::vector<int>& pred, int num_classes);

// Entity-level scores: micro-averaged over all types, and per type (every
// type found in gold or predictions, as seqeval's classification_report).
// Precision, recall and F1 are 0 where undefined (no predictions, no gold
// entities), as seqeval with its default zero_division.
struct EntityScores {
  double precision = 0;
  double recall = 0;
  double f1 = 0;
  int64_t gold = 0;
  int64_t predicted = 0;
  int64_t correct = 0;
  std::map<std::string, ClassScores> per_type;
};

// Entity scores of tagged sentences, as seqeval's precision_score /
// recall_score / f1_score / classification_report in the default (non
// strict) mode: entities are chunked from each sentence's tags with the
// conlleval rules (datasets::ChunkTags: B-X starts an entity, I-X after O
// or another type starts one) and a prediction counts when span and type
// match exactly. Sentence i of gold is compared with sentence i of pred;
// sentences are chunked independently, so lengths need not match (seqeval
// would refuse), and a missing sentence has no entities.
EntityScores ScoreEntities(
    const std::vector<std::vector<std::string>>& gold_tags,
    const std::vector<std::vector<std::string>>& pred_tags);

// The same counting over entity spans: per sentence, a predicted span is
// correct when a gold span has the same begin, end and type. Duplicate spans
// within a sentence count once (spans are sets, as in seqeval).
EntityScores ScoreSpans(
    const std::vector<std::vector<datasets::Span>>& gold_spans,
    const std::vector<std::vector<datasets::Span>>& pred_spans);

}  // namespace ptune::training

#endif  // PTUNE_SERVER_TRAINING_METRICS_H_

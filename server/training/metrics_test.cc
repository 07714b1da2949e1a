// Hand-computed checks of the metrics (metrics_reference_test.cc compares
// with seqeval / scikit-learn).
#include "server/training/metrics.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::training {
namespace {

using Tags = std::vector<std::vector<std::string>>;
using datasets::Span;

TEST(AccuracyTest, Basic) {
  EXPECT_DOUBLE_EQ(Accuracy({0, 1, 1, 0}, {0, 1, 0, 0}), 0.75);
  EXPECT_EQ(Accuracy({}, {}), 0.0);
  EXPECT_DOUBLE_EQ(Accuracy({1, 1}, {1}), 0.5);  // Unmatched counts wrong.
}

TEST(MacroF1Test, Basic) {
  // Class 0: tp 1, fp 1 (pred 0 for gold 1), fn 0 -> 2/3.
  // Class 1: tp 1, fp 0, fn 1 -> 2/3.
  EXPECT_DOUBLE_EQ(MacroF1({0, 1, 1}, {0, 1, 0}, 2), 2.0 / 3.0);
  // Class 2 absent from both lists is not averaged.
  EXPECT_DOUBLE_EQ(MacroF1({0, 1, 1}, {0, 1, 0}, 3), 2.0 / 3.0);
  // A class only predicted contributes 0: classes 0 (1.0), 1 (2/3), 2 (0).
  EXPECT_DOUBLE_EQ(MacroF1({0, 1, 1}, {0, 1, 2}, 3), (1.0 + 2.0 / 3.0) / 3.0);
  EXPECT_DOUBLE_EQ(MacroF1({1, 1}, {1, 1}, 2), 1.0);
  EXPECT_EQ(MacroF1({}, {}, 2), 0.0);
  EXPECT_EQ(MacroF1({0, 1}, {1, 0}, 2), 0.0);
}

TEST(ScoreEntitiesTest, MicroAndPerType) {
  // Gold: PER(0-1) LOC(3) | ORG(1-2).
  // Pred: PER(0-1) LOC(3) MISC(5) | ORG(1): PER and LOC correct, ORG cut
  // short, MISC spurious.
  const Tags gold = {{"B-PER", "I-PER", "O", "B-LOC", "O", "O"},
                     {"O", "B-ORG", "I-ORG"}};
  const Tags pred = {{"B-PER", "I-PER", "O", "B-LOC", "O", "B-MISC"},
                     {"O", "B-ORG", "O"}};
  const EntityScores s = ScoreEntities(gold, pred);
  EXPECT_EQ(s.gold, 3);
  EXPECT_EQ(s.predicted, 4);
  EXPECT_EQ(s.correct, 2);
  EXPECT_DOUBLE_EQ(s.precision, 0.5);
  EXPECT_DOUBLE_EQ(s.recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.f1, 2 * 0.5 * (2.0 / 3.0) / (0.5 + 2.0 / 3.0));
  ASSERT_EQ(s.per_type.size(), 4u);
  EXPECT_EQ(s.per_type.at("PER").f1, 1.0);
  EXPECT_EQ(s.per_type.at("PER").support, 1);
  EXPECT_EQ(s.per_type.at("ORG").f1, 0.0);
  EXPECT_EQ(s.per_type.at("ORG").support, 1);
  EXPECT_EQ(s.per_type.at("MISC").support, 0);  // Only predicted.
  EXPECT_EQ(s.per_type.at("MISC").predicted, 1);
  EXPECT_EQ(s.per_type.at("MISC").precision, 0.0);
}

TEST(ScoreEntitiesTest, EdgeCases) {
  // I- after O is an entity (conlleval), so these match.
  EntityScores s =
      ScoreEntities({{"O", "I-PER", "I-PER"}}, {{"O", "B-PER", "I-PER"}});
  EXPECT_EQ(s.correct, 1);
  EXPECT_EQ(s.f1, 1.0);
  // A type switch inside an entity splits it: gold PER(0-2), pred PER(0)
  // LOC(1) PER(2).
  s = ScoreEntities({{"B-PER", "I-PER", "I-PER"}},
                    {{"B-PER", "I-LOC", "I-PER"}});
  EXPECT_EQ(s.gold, 1);
  EXPECT_EQ(s.predicted, 3);
  EXPECT_EQ(s.correct, 0);
  // Empty predictions.
  s = ScoreEntities({{"B-PER", "O"}}, {{"O", "O"}});
  EXPECT_EQ(s.predicted, 0);
  EXPECT_EQ(s.precision, 0.0);
  EXPECT_EQ(s.recall, 0.0);
  EXPECT_EQ(s.f1, 0.0);
  // All O on both sides: everything 0, no types.
  s = ScoreEntities({{"O"}, {}}, {{"O"}, {}});
  EXPECT_EQ(s.gold, 0);
  EXPECT_EQ(s.f1, 0.0);
  EXPECT_TRUE(s.per_type.empty());
  // An entity ending the sentence, and one cut short.
  s = ScoreEntities({{"O", "B-ORG", "I-ORG"}, {"B-LOC", "I-LOC"}},
                    {{"O", "B-ORG", "I-ORG"}, {"B-LOC", "O"}});
  EXPECT_EQ(s.correct, 1);
  EXPECT_DOUBLE_EQ(s.f1, 0.5);
  // Sentences are separate: I-PER opening sentence 2 is a new entity.
  s = ScoreEntities({{"B-PER"}, {"I-PER"}}, {{"B-PER"}, {"B-PER"}});
  EXPECT_EQ(s.correct, 2);
  // A missing predicted sentence has no entities.
  s = ScoreEntities({{"B-PER"}, {"B-LOC"}}, {{"B-PER"}});
  EXPECT_EQ(s.gold, 2);
  EXPECT_EQ(s.correct, 1);
}

TEST(ScoreSpansTest, CountsSetsOfSpans) {
  const std::vector<std::vector<Span>> gold = {{{0, 5, "PER"}, {10, 12, "LOC"}},
                                               {{3, 4, "ORG"}}};
  const std::vector<std::vector<Span>> pred = {
      {{0, 5, "PER"}, {0, 5, "PER"}, {10, 12, "ORG"}}, {{3, 4, "ORG"}}};
  const EntityScores s = ScoreSpans(gold, pred);
  EXPECT_EQ(s.gold, 3);
  EXPECT_EQ(s.predicted, 3);  // The duplicate counts once.
  EXPECT_EQ(s.correct, 2);
  EXPECT_DOUBLE_EQ(s.f1, 2.0 / 3.0);
  EXPECT_EQ(s.per_type.at("ORG").support, 1);
  EXPECT_EQ(s.per_type.at("ORG").predicted, 2);
  EXPECT_DOUBLE_EQ(s.per_type.at("ORG").precision, 0.5);
  EXPECT_DOUBLE_EQ(s.per_type.at("LOC").recall, 0.0);
}

}  // namespace
}  // namespace ptune::training

#include "server/training/bio.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptune::training {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// "Angela Merkel visited New York ." words in code points.
const std::vector<Span> kWords = {{0, 6},   {7, 13},  {14, 21},
                                  {22, 25}, {26, 30}, {31, 32}};

TEST(TrainingBioTest, TagsToSpans) {
  EXPECT_THAT(
      TagsToSpans(kWords, {"B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"}),
      ElementsAre(Span{0, 13, "PER"}, Span{22, 30, "LOC"}));
  // Repairs: I- after O starts an entity; a type switch starts another.
  EXPECT_THAT(
      TagsToSpans(kWords, {"I-PER", "I-PER", "O", "I-LOC", "I-ORG", "O"}),
      ElementsAre(Span{0, 13, "PER"}, Span{22, 25, "LOC"},
                  Span{26, 30, "ORG"}));
  // Entity running to the last word; missing tags count as O.
  EXPECT_THAT(TagsToSpans(kWords, {"O", "O", "O", "O", "B-MISC", "I-MISC"}),
              ElementsAre(Span{26, 32, "MISC"}));
  EXPECT_THAT(TagsToSpans(kWords, {"B-PER"}), ElementsAre(Span{0, 6, "PER"}));
  EXPECT_TRUE(TagsToSpans(kWords, {}).empty());
  EXPECT_TRUE(TagsToSpans({}, {"B-PER"}).empty());
}

TEST(TrainingBioTest, SpansToTagsRoundTrip) {
  const std::vector<std::string> tags = {"B-PER", "I-PER", "O",
                                         "B-LOC", "B-LOC", "O"};
  const std::vector<Span> spans = TagsToSpans(kWords, tags);
  EXPECT_EQ(SpansToTags(kWords, spans), tags);
  EXPECT_THAT(SpansToTags(kWords, {}),
              ElementsAre("O", "O", "O", "O", "O", "O"));
}

TEST(TrainingBioTest, NormalizeTag) {
  EXPECT_EQ(*NormalizeTag("O"), "O");
  EXPECT_EQ(*NormalizeTag("B-PER"), "B-PER");
  EXPECT_EQ(*NormalizeTag("I-creative-work"), "I-creative-work");
  for (const char* bad : {"X-PER", "B-", "", "PER", "b-PER", "B-A B"}) {
    const absl::StatusOr<std::string> tag = NormalizeTag(bad);
    EXPECT_EQ(tag.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(NormalizeTag("X-PER").status().message(),
              HasSubstr("malformed tag \"X-PER\""));
}

TEST(TrainingBioTest, BioLabelSet) {
  EXPECT_THAT(
      BioLabelSet({"PER", "LOC", "ORG", "LOC"}),
      ElementsAre("O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"));
  EXPECT_THAT(BioLabelSet({}), ElementsAre("O"));
}

TEST(TrainingBioTest, ConstrainedDecodeNeverStartsWithInside) {
  const std::vector<std::string> labels = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
  const auto row = [](std::vector<float> p) {
    for (float& x : p) x = std::log(x);
    return p;
  };
  std::vector<float> scores;
  // word 0: argmax I-PER (invalid start) -> B-PER; word 1: I-PER; word 2:
  // argmax I-LOC after PER -> best valid path; word 3: O.
  for (const auto& r : {row({0.1, 0.3, 0.4, 0.1, 0.1}), row({0.05, 0.05, 0.8, 0.05, 0.05}),
                        row({0.3, 0.05, 0.05, 0.2, 0.4}), row({0.9, 0.025, 0.025, 0.025, 0.025})}) {
    scores.insert(scores.end(), r.begin(), r.end());
  }
  EXPECT_EQ(ConstrainedBioDecode(scores, 4, labels), (std::vector<int>{1, 2, 0, 0}));
  // Unconstrained rows that are already valid decode to their argmax.
  std::vector<float> valid;
  for (const auto& r : {row({0.1, 0.7, 0.1, 0.05, 0.05}), row({0.1, 0.1, 0.7, 0.05, 0.05})}) {
    valid.insert(valid.end(), r.begin(), r.end());
  }
  EXPECT_EQ(ConstrainedBioDecode(valid, 2, labels), (std::vector<int>{1, 2}));
  EXPECT_TRUE(ConstrainedBioDecode({}, 0, labels).empty());
}

// The textbook O(n k^2) Viterbi over the explicit transition matrix, as the
// reference for the sparse decoder.
std::vector<int> DenseBioDecode(const std::vector<float>& scores, int n,
                                const std::vector<std::string>& labels) {
  const int k = static_cast<int>(labels.size());
  const auto allowed = [&](int from, int to) {
    const std::string& tag = labels[to];
    if (tag.rfind("I-", 0) != 0) return true;
    const std::string& prev = labels[from];
    return prev.size() > 2 && prev.substr(2) == tag.substr(2) &&
           (prev[0] == 'B' || prev[0] == 'I');
  };
  constexpr double kImpossible = -1e30;
  std::vector<double> best(k), next(k);
  std::vector<int> back(static_cast<size_t>(n) * k, 0);
  for (int t = 0; t < k; ++t) {
    best[t] = labels[t].rfind("I-", 0) == 0 ? kImpossible : scores[t];
  }
  for (int i = 1; i < n; ++i) {
    for (int to = 0; to < k; ++to) {
      double top = kImpossible;
      int arg = 0;
      for (int from = 0; from < k; ++from) {
        if (allowed(from, to) && best[from] > kImpossible && best[from] > top) {
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

std::vector<float> RandomLogProbs(int n, int k, std::mt19937* rng) {
  std::uniform_real_distribution<float> u(-8.0f, 0.0f);
  std::vector<float> scores(static_cast<size_t>(n) * k);
  for (float& s : scores) s = u(*rng);
  return scores;
}

TEST(TrainingBioTest, ConstrainedDecodeEqualsDenseViterbi) {
  std::mt19937 rng(7);
  // Label sets of the trainer's shape, plus imported ones that are not
  // sorted or not BIO at all (unconstrained labels).
  const std::vector<std::vector<std::string>> label_sets = {
      BioLabelSet({"PER", "LOC", "ORG", "MISC"}),
      {"I-PER", "O", "B-PER", "I-LOC", "B-LOC"},
      {"neg", "pos", "I-x", "B-x", "Ix-y"},
      BioLabelSet({"a"}),
  };
  for (const auto& labels : label_sets) {
    for (int n : {1, 2, 5, 17}) {
      for (int trial = 0; trial < 20; ++trial) {
        const std::vector<float> scores =
            RandomLogProbs(n, static_cast<int>(labels.size()), &rng);
        EXPECT_EQ(ConstrainedBioDecode(scores, n, labels),
                  DenseBioDecode(scores, n, labels));
      }
    }
  }
}

// Decoding cost is linear in the tag count: 120 words under 2,001 tags took
// 1.8 s with the dense transitions and now takes about a millisecond (the
// bound leaves room for sanitizers and a loaded machine).
TEST(TrainingBioTest, ConstrainedDecodeIsLinearInTags) {
  std::vector<std::string> types;
  for (int i = 0; i < 1000; ++i) types.push_back("T" + std::to_string(i));
  const std::vector<std::string> labels = BioLabelSet(types);
  ASSERT_EQ(labels.size(), 2001u);
  std::mt19937 rng(1);
  const std::vector<float> scores = RandomLogProbs(120, 2001, &rng);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int> path = ConstrainedBioDecode(scores, 120, labels);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(path.size(), 120u);
  EXPECT_LT(seconds, 0.2);
}

}  // namespace
}  // namespace ptune::training

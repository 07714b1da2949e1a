// Compares two prompt models' trainable tensors (tests of training paths
// that must give the same parameters: batched vs alone, sliced vs whole,
// resumed vs uninterrupted).
#ifndef PTUNE_TESTS_TESTING_MODEL_COMPARE_H_
#define PTUNE_TESTS_TESTING_MODEL_COMPARE_H_

#include <algorithm>

#include "server/prompts/prompt_model.h"

namespace ptune::testing {

// The largest absolute difference over every parameter (same spec assumed).
inline double MaxParameterDifference(const prompts::PromptModel& a,
                                     const prompts::PromptModel& b) {
  const auto pa = a.Parameters(), pb = b.Parameters();
  double worst = 0;
  for (size_t i = 0; i < pa.size(); ++i) {
    worst = std::max(worst, (pa[i] - pb[i]).abs().max().item<double>());
  }
  return worst;
}

}  // namespace ptune::testing

#endif  // PTUNE_TESTS_TESTING_MODEL_COMPARE_H_

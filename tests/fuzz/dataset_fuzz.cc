// One dataset reader (PTUNE_FUZZ_FORMAT: kTsv, kCsv, kJsonl or kConll) on
// arbitrary bytes, for both tasks (first byte): refuse with a status naming
// the line, or return examples that satisfy the Dataset contract.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/datasets/dataset.h"
#include "tests/fuzz/fuzz_env.h"

using ::ptune::fuzz::Check;
namespace datasets = ::ptune::datasets;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const datasets::Task task =
      (data[0] & 1) != 0 ? datasets::Task::kTag : datasets::Task::kClassify;
  const std::string contents(reinterpret_cast<const char*>(data + 1), size - 1);
  auto parsed = datasets::ParseDataset(contents, "fuzz", task,
                                       datasets::Format::PTUNE_FUZZ_FORMAT);
  if (!parsed.ok()) {
    Check(!parsed.status().message().empty(), "a refusal says why");
    return 0;
  }
  Check(parsed->task == task, "the requested task");
  for (const datasets::ClassificationExample& ex : parsed->classification) {
    Check(!ex.text.empty() && !ex.label.empty(), "text and label not empty");
  }
  for (const datasets::TaggingExample& ex : parsed->tagging) {
    Check(ex.words.size() == ex.tags.size(), "one tag per word");
    int32_t previous_end = 0;
    for (const datasets::Span& w : ex.words) {
      Check(previous_end <= w.begin && w.begin < w.end, "words in order");
      previous_end = w.end;
    }
  }
  return 0;
}

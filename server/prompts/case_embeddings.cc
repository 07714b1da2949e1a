#include "server/prompts/case_embeddings.h"

#include <ATen/ATen.h>

#include "server/device/device_copy.h"
#include "server/text/word_case.h"

namespace ptune::prompts {

at::Tensor GatherCaseEmbeddings(const at::Tensor& tables,
                                const std::vector<text::Encoding>& rows,
                                const std::vector<int64_t>& row_table, int64_t t) {
  const int64_t b = static_cast<int64_t>(rows.size());
  const int64_t classes = text::kNumWordCases;
  std::vector<int64_t> index(b * t);
  for (int64_t r = 0; r < b; ++r) {
    const int64_t base = row_table[r] * classes;
    const std::vector<uint8_t>& cases = rows[r].word_case;
    for (int64_t i = 0; i < t; ++i) {
      index[r * t + i] = base + (i < static_cast<int64_t>(cases.size()) ? cases[i] : 0);
    }
  }
  const at::Tensor flat = tables.reshape({-1, tables.size(-1)});
  return at::embedding(flat, device::ToDevice(index, tables.device(), {b, t}));
}

}  // namespace ptune::prompts

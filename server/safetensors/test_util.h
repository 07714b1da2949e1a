// Helpers for the safetensors tests: hand-crafting file bytes. Test-only.
#ifndef PTUNE_SERVER_SAFETENSORS_TEST_UTIL_H_
#define PTUNE_SERVER_SAFETENSORS_TEST_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace ptune::safetensors::testing {

// The 8-byte little-endian encoding of `value`.
inline std::string U64Le(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  }
  return out;
}

// A file made of `header` (used verbatim, with its true size) and `data`.
inline std::string MakeFile(absl::string_view header, absl::string_view data) {
  return U64Le(header.size()) + std::string(header) + std::string(data);
}

}  // namespace ptune::safetensors::testing

#endif  // PTUNE_SERVER_SAFETENSORS_TEST_UTIL_H_

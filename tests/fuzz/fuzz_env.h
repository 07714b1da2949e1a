// Shared set-up of the libFuzzer targets: where the default backbone is
// (the tokenizer and PEFT targets need its files). A target that needs it
// and finds none aborts at its first input with a clear message: a fuzzer
// that silently tests nothing would be worse.
#ifndef PTUNE_TESTS_FUZZ_FUZZ_ENV_H_
#define PTUNE_TESTS_FUZZ_FUZZ_ENV_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/testing/test_paths.h"

namespace ptune::fuzz {

inline std::string BackboneDirOrDie() {
  const std::string dir = ::ptune::testing::BackboneDir();
  if (dir.empty()) {
    std::fprintf(stderr,
                 "fuzz target: no backbone; set PTUNE_BACKBONE_DIR to the "
                 "all-MiniLM-L6-v2 folder (deploy/local/dev.sh setup installs it)\n");
    std::abort();
  }
  return dir;
}

// Aborts (a finding) when `ok` is false: an invariant of a successful parse.
inline void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace ptune::fuzz

#endif  // PTUNE_TESTS_FUZZ_FUZZ_ENV_H_

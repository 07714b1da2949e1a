// gtest main for every ptune test binary: selects the OpenBLAS kernel the
// way the ptune binaries do (server/common/process_tuning.h), so tests run at
// the speed and with the numerics of production, and gives the binary its
// own scratch folder, removed when the tests end.
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "gtest/gtest.h"
#include "server/platform/blas_kernel.h"

namespace {

// A fresh folder under $TMPDIR (else /tmp) that both ::testing::TempDir()
// (TEST_TMPDIR) and std::filesystem::temp_directory_path() (TMPDIR) return
// while the tests run, and that child processes inherit. Tests create their
// files there and need not delete them; a crashed binary leaves its folder
// behind for a look.
class ScratchFolder {
 public:
  ScratchFolder() {
    const char* parent = getenv("TMPDIR");
    std::string pattern = std::string(parent != nullptr && *parent != '\0' ? parent : "/tmp") +
                          "/ptune-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) return;  // tests fall back to the parent
    path_ = pattern;
    setenv("TEST_TMPDIR", path_.c_str(), 1);
    setenv("TMPDIR", path_.c_str(), 1);
  }
  ~ScratchFolder() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;

 private:
  std::string path_;
};

}  // namespace

int main(int argc, char** argv) {
  ptune::platform::SelectBlasKernel(argv);
  ::testing::InitGoogleTest(&argc, argv);
  ScratchFolder scratch;
  return RUN_ALL_TESTS();
}

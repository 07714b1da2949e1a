#include "server/platform/blas_kernel.h"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ptune::platform {
namespace {

int FindBlas(struct dl_phdr_info* info, size_t, void* data) {
  auto* out = static_cast<std::string*>(data);
  const absl::string_view name = info->dlpi_name ? info->dlpi_name : "";
  if (!absl::StrContains(name, "libblas.so") &&
      !absl::StrContains(name, "libopenblas")) {
    return 0;
  }
  char resolved[PATH_MAX];
  std::string path(name);
  if (realpath(path.c_str(), resolved) != nullptr) path = resolved;
  *out = path;
  return 1;
}

}  // namespace

std::string ActiveBlasLibrary() {
  std::string path;
  dl_iterate_phdr(&FindBlas, &path);
  if (path.empty()) return "none-loaded";
  if (absl::StrContains(path, "openblas-pthread")) return "openblas-pthread";
  if (absl::StrContains(path, "openblas-openmp")) return "openblas-openmp";
  if (absl::StrContains(path, "openblas")) return "openblas";
  if (absl::StrContains(path, "blis")) return "blis";
  if (absl::StrContains(path, "atlas")) return "atlas";
  if (absl::StrContains(path, "mkl")) return "mkl";
  return absl::StrCat("reference (", path, ")");
}

std::string BlasKernelName() {
  using CoreNameFn = char* (*)();
  auto fn = reinterpret_cast<CoreNameFn>(
      dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (fn == nullptr) return "";
  const char* name = fn();
  return name != nullptr ? name : "";
}

void SelectBlasKernel(char** argv) {
  constexpr char kGuard[] = "PTUNE_BLAS_KERNEL_SELECTED";
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr ||
      std::getenv(kGuard) != nullptr) {
    return;
  }
  const std::string core = BlasKernelName();
  // The kernels OpenBLAS falls back to when it cannot identify the CPU.
  if (core != "Prescott" && core != "Katmai" && core != "Core2") return;
  const char* target = nullptr;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl")) {
    target = "SkylakeX";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    target = "Haswell";
  } else {
    return;
  }
  setenv("OPENBLAS_CORETYPE", target, 1);
  setenv(kGuard, core.c_str(), 1);
  execv("/proc/self/exe", argv);
  // exec failed (e.g. no /proc): carry on with the generic kernel.
  unsetenv("OPENBLAS_CORETYPE");
}

}  // namespace ptune::platform

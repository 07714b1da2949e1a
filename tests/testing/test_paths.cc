#include "tests/testing/test_paths.h"

#include <cstdlib>
#include <filesystem>

namespace ptune::testing {

std::string BackboneDir() {
  const char* env = std::getenv("PTUNE_BACKBONE_DIR");
  std::string dir = env != nullptr && *env != '\0' ? env : "";
#ifdef PTUNE_TEST_BACKBONE_DIR
  if (dir.empty()) dir = PTUNE_TEST_BACKBONE_DIR;
#endif
  if (dir.empty() || !std::filesystem::exists(dir + "/config.json")) return "";
  return dir;
}

std::string SourceDir() {
  const char* env = std::getenv("PTUNE_SOURCE_DIR");
  if (env != nullptr && *env != '\0') return env;
#ifdef PTUNE_TEST_SOURCE_DIR
  return PTUNE_TEST_SOURCE_DIR;
#else
  return ".";
#endif
}

std::string SharedDataDir() {
  const std::string dir = SourceDir() + "/../shared/data";
  return std::filesystem::is_directory(dir) ? dir : "";
}

}  // namespace ptune::testing

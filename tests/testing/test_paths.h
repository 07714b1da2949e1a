// Where tests find the default backbone and the shared datasets. Tests that
// need one skip (GTEST_SKIP) with a clear message when it is absent.
#ifndef PTUNE_TESTS_TESTING_TEST_PATHS_H_
#define PTUNE_TESTS_TESTING_TEST_PATHS_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace ptune::testing {

// $PTUNE_BACKBONE_DIR, else the folder CMake was configured with
// (PTUNE_TEST_BACKBONE_DIR), else "" when neither holds a config.json.
inline std::string BackboneDir() {
  const char* env = std::getenv("PTUNE_BACKBONE_DIR");
  std::string dir = env != nullptr && *env != '\0' ? env : "";
#ifdef PTUNE_TEST_BACKBONE_DIR
  if (dir.empty()) dir = PTUNE_TEST_BACKBONE_DIR;
#endif
  if (dir.empty() || !std::filesystem::exists(dir + "/config.json")) return "";
  return dir;
}

// The project root: $PTUNE_SOURCE_DIR (ctest sets it), else the folder CMake
// was configured from, else the current folder.
inline std::string SourceDir() {
  const char* env = std::getenv("PTUNE_SOURCE_DIR");
  if (env != nullptr && *env != '\0') return env;
#ifdef PTUNE_TEST_SOURCE_DIR
  return PTUNE_TEST_SOURCE_DIR;
#else
  return ".";
#endif
}

// ../shared/data next to the project root, or "" when absent.
inline std::string SharedDataDir() {
  const std::string dir = SourceDir() + "/../shared/data";
  return std::filesystem::is_directory(dir) ? dir : "";
}

}  // namespace ptune::testing

#endif  // PTUNE_TESTS_TESTING_TEST_PATHS_H_

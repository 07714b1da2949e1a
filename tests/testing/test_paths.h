// Where tests find the default backbone and the shared datasets. Tests that
// need one skip (GTEST_SKIP) with a clear message when it is absent. The
// configured folders are compiled into test_paths.cc alone (library
// ptune_test_paths), so that no other test file's compile command names an
// absolute path and ccache serves every clone of the repository alike.
#ifndef PTUNE_TESTS_TESTING_TEST_PATHS_H_
#define PTUNE_TESTS_TESTING_TEST_PATHS_H_

#include <string>

namespace ptune::testing {

// $PTUNE_BACKBONE_DIR, else the folder CMake was configured with
// (PTUNE_TEST_BACKBONE_DIR), else "" when neither holds a config.json.
std::string BackboneDir();

// The project root: $PTUNE_SOURCE_DIR (ctest sets it), else the folder CMake
// was configured from, else the current folder.
std::string SourceDir();

// ../shared/data next to the project root, or "" when absent.
std::string SharedDataDir();

}  // namespace ptune::testing

#endif  // PTUNE_TESTS_TESTING_TEST_PATHS_H_

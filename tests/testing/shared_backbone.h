// The default backbone, loaded once per test binary and shared by its tests
// (loading takes ~0.5 s). nullptr when it is not installed: callers skip.
#ifndef PTUNE_TESTS_TESTING_SHARED_BACKBONE_H_
#define PTUNE_TESTS_TESTING_SHARED_BACKBONE_H_

#include <memory>

#include "server/backbone/backbone.h"
#include "tests/testing/test_paths.h"

namespace ptune::testing {

inline const backbone::Backbone* SharedBackbone() {
  static const backbone::Backbone* const backbone = [] {
    const std::string dir = BackboneDir();
    if (dir.empty()) return static_cast<backbone::Backbone*>(nullptr);
    auto created = backbone::Backbone::Create({.dir = dir, .device = "cpu"});
    return created.ok() ? created->release() : nullptr;  // lives until exit
  }();
  return backbone;
}

}  // namespace ptune::testing

#endif  // PTUNE_TESTS_TESTING_SHARED_BACKBONE_H_

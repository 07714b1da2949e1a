// Store URLs for tests, one per engine, so suites run against both:
//   "sqlite"    a fresh file under the test's temporary folder
//   "postgres"  a fresh schema in the server PTUNE_TEST_POSTGRES_URL names
//               (deploy/local/dev.sh test starts a throwaway cluster and
//               sets it)
// Without PTUNE_TEST_POSTGRES_URL the postgres URL is UNAVAILABLE (callers
// skip, saying why), unless PTUNE_REQUIRE_POSTGRES=1 (CI): then it is
// FAILED_PRECONDITION and the tests fail loudly instead of skipping.
#ifndef PTUNE_SERVER_STORE_TEST_STORE_H_
#define PTUNE_SERVER_STORE_TEST_STORE_H_

#include <string>

#include "absl/status/statusor.h"

namespace ptune::store {

absl::StatusOr<std::string> TestStoreUrl(const std::string& engine);

}  // namespace ptune::store

#endif  // PTUNE_SERVER_STORE_TEST_STORE_H_

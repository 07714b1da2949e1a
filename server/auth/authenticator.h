#ifndef PTUNE_SERVER_AUTH_AUTHENTICATOR_H_
#define PTUNE_SERVER_AUTH_AUTHENTICATOR_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace ptune::auth {

// Who a request acts for.
struct Principal {
  std::string tenant_id;  // empty for the admin
  bool is_admin = false;
};

// Where tenant keys live, looked up by hash (HashApiKey) so that auth does not
// depend on the store; the service adapts the store to this interface.
//
// Thread-safety: implementations must be thread-safe.
class KeyDirectory {
 public:
  virtual ~KeyDirectory() = default;
  // The tenant owning the key with this hash. NOT_FOUND when no live key has
  // it (unknown or revoked); any other error is a failure of the directory
  // itself (e.g. UNAVAILABLE).
  virtual absl::StatusOr<std::string> TenantForKeyHash(
      std::string_view hash) = 0;
};

// Resolves a bearer key to a Principal: the admin key (loaded from a file,
// kept only as its hash) or a tenant key from the KeyDirectory. A wrong,
// unknown or revoked key gets the same UNAUTHENTICATED message, so a caller
// learns nothing about which keys exist.
//
// Thread-safety: thread-safe; LoadAdminKey may run concurrently with
// Authenticate (key rotation). Ownership: does not own the directory, which
// must outlive this object.
class Authenticator {
 public:
  // `directory` must not be null. No admin key until LoadAdminKey succeeds.
  explicit Authenticator(KeyDirectory* directory);
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Reads the admin key from `path` (surrounding whitespace, e.g. the final
  // newline, ignored) and keeps only its hash, replacing any previous admin
  // key. NOT_FOUND / PERMISSION_DENIED when the file cannot be read;
  // INVALID_ARGUMENT when the key is shorter than kMinAdminKeyLength or
  // contains whitespace.
  absl::Status LoadAdminKey(const std::string& path);

  // Resolves the value of an `authorization` header ("Bearer <key>").
  absl::StatusOr<Principal> Authenticate(
      std::string_view authorization_header) const;

  // Resolves a bare key.
  absl::StatusOr<Principal> AuthenticateKey(std::string_view key) const;

  // Shortest admin key accepted: 32 characters of a random key are far from
  // guessable; a short word is not.
  static constexpr size_t kMinAdminKeyLength = 32;

 private:
  KeyDirectory* const directory_;
  mutable absl::Mutex mu_;
  std::string admin_key_hash_ ABSL_GUARDED_BY(mu_);  // empty: no admin key
};

}  // namespace ptune::auth

#endif  // PTUNE_SERVER_AUTH_AUTHENTICATOR_H_

#include "server/auth/authenticator.h"

#include <openssl/crypto.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/auth/api_key.h"

namespace ptune::auth {
namespace {

// One message for every rejected key: which keys exist is not revealed.
absl::Status InvalidKeyError() {
  return absl::UnauthenticatedError("invalid or revoked API key");
}

// Wipes a string that held a secret before its memory is freed.
void Wipe(std::string& secret) {
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

}  // namespace

Authenticator::Authenticator(KeyDirectory* directory) : directory_(directory) {}

absl::Status Authenticator::LoadAdminKey(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    const int error = errno;
    const std::string message = absl::StrCat("cannot read the admin key file ",
                                             path, ": ", std::strerror(error));
    return error == EACCES ? absl::PermissionDeniedError(message)
                           : absl::NotFoundError(message);
  }
  std::string contents((std::istreambuf_iterator<char>(file)),
                       std::istreambuf_iterator<char>());
  const absl::string_view key = absl::StripAsciiWhitespace(contents);
  absl::Status status;
  if (key.size() < kMinAdminKeyLength) {
    status = absl::InvalidArgumentError(
        absl::StrCat("the admin key in ", path, " has ", key.size(),
                     " characters; at least ", kMinAdminKeyLength,
                     " are required (e.g. the output of "
                     "`openssl rand -base64 32`)"));
  } else if (key.find_first_of(" \t\r\n") != absl::string_view::npos) {
    status = absl::InvalidArgumentError(
        absl::StrCat("the admin key in ", path,
                     " contains whitespace; put the key alone "
                     "on one line"));
  } else {
    std::string hash = HashApiKey(std::string_view(key.data(), key.size()));
    absl::MutexLock lock(&mu_);
    admin_key_hash_ = std::move(hash);
  }
  Wipe(contents);
  return status;
}

absl::StatusOr<Principal> Authenticator::Authenticate(
    std::string_view authorization_header) const {
  absl::StatusOr<std::string> key = ParseBearer(authorization_header);
  if (!key.ok()) return key.status();
  absl::StatusOr<Principal> principal = AuthenticateKey(*key);
  Wipe(*key);
  return principal;
}

absl::StatusOr<Principal> Authenticator::AuthenticateKey(
    std::string_view key) const {
  if (key.empty() || key.size() > kMaxBearerTokenLength) {
    return InvalidKeyError();
  }
  const std::string hash = HashApiKey(key);
  if (hash.empty()) return absl::InternalError("cannot hash the API key");
  {
    absl::MutexLock lock(&mu_);
    if (!admin_key_hash_.empty() && ConstantTimeEquals(hash, admin_key_hash_)) {
      return Principal{"", /*is_admin=*/true};
    }
  }
  absl::StatusOr<std::string> tenant = directory_->TenantForKeyHash(hash);
  if (tenant.ok()) {
    if (tenant->empty()) return InvalidKeyError();
    return Principal{*std::move(tenant), /*is_admin=*/false};
  }
  if (absl::IsNotFound(tenant.status())) return InvalidKeyError();
  // The directory itself failed: not the caller's fault, and retrying may
  // help, so keep the directory's code.
  return absl::Status(
      tenant.status().code(),
      absl::StrCat("cannot check the API key: ", tenant.status().message()));
}

}  // namespace ptune::auth

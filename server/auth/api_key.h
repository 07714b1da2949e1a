// API keys: generation, hashing, comparison and the bearer header.
//
// A key is "ptk_" + 43 characters of unpadded base64url (32 bytes from the
// operating system's CSPRNG, 256 bits). Only its SHA-256 (lower-case hex) is
// ever stored; the key itself is shown to its owner once.
#ifndef PTUNE_SERVER_AUTH_API_KEY_H_
#define PTUNE_SERVER_AUTH_API_KEY_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ptune::auth {

inline constexpr std::string_view kApiKeyPrefix = "ptk_";
inline constexpr size_t kApiKeyRandomBytes = 32;
// 4 + ceil(32 * 4 / 3) = 4 + 43.
inline constexpr size_t kApiKeyLength = 47;
// Longer bearer tokens are rejected before hashing.
inline constexpr size_t kMaxBearerTokenLength = 512;

// A fresh key. INTERNAL only if the CSPRNG fails (it does not on Linux once
// the kernel's pool is initialized).
absl::StatusOr<std::string> GenerateApiKey();

// Lower-case hex SHA-256 of `key` (64 characters).
std::string HashApiKey(std::string_view key);

// Unpadded base64url (RFC 4648 §5) of `bytes`.
std::string Base64UrlEncode(std::string_view bytes);

// Equality whose running time depends only on the lengths, not on where the
// inputs differ; for secrets and their hashes.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// The key in an `authorization` header value "Bearer <key>" (scheme
// case-insensitive, as RFC 7235 says). UNAUTHENTICATED, saying what is wrong,
// when the header is missing (empty), has another scheme, or carries no key.
absl::StatusOr<std::string> ParseBearer(std::string_view authorization_header);

}  // namespace ptune::auth

#endif  // PTUNE_SERVER_AUTH_API_KEY_H_

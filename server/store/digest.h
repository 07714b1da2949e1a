// Content digests of stored artifacts: what the prompt cache keys on, so no
// replica serves tensors other than the ones a version names.
#ifndef PTUNE_SERVER_STORE_DIGEST_H_
#define PTUNE_SERVER_STORE_DIGEST_H_

#include <string>

#include "absl/strings/string_view.h"

namespace ptune::store {

// Lowercase hex SHA-256 of `bytes`.
std::string Sha256Hex(absl::string_view bytes);

// The digest of a prompt version's artifact pair: SHA-256 over the
// safetensors bytes and the JSON, each preceded by its length (8 bytes,
// little-endian), so no two different pairs share a digest. Empty artifacts
// (a version still training) have the digest of two empty parts.
std::string ArtifactDigest(absl::string_view safetensors, absl::string_view json);

}  // namespace ptune::store

#endif  // PTUNE_SERVER_STORE_DIGEST_H_

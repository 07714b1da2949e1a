#include "server/auth/api_key.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace ptune::auth {
namespace {

constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr char kBearerUsage[] =
    "expected the metadata \"authorization: Bearer <api key>\"";

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  const auto* in = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
    out += kBase64UrlAlphabet[(v >> 18) & 63];
    out += kBase64UrlAlphabet[(v >> 12) & 63];
    out += kBase64UrlAlphabet[(v >> 6) & 63];
    out += kBase64UrlAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    const uint32_t v = in[i] << 16;
    out += kBase64UrlAlphabet[(v >> 18) & 63];
    out += kBase64UrlAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    const uint32_t v = (in[i] << 16) | (in[i + 1] << 8);
    out += kBase64UrlAlphabet[(v >> 18) & 63];
    out += kBase64UrlAlphabet[(v >> 12) & 63];
    out += kBase64UrlAlphabet[(v >> 6) & 63];
  }
  return out;
}

absl::StatusOr<std::string> GenerateApiKey() {
  unsigned char random[kApiKeyRandomBytes];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    return absl::InternalError(
        "the random generator failed to make an API key");
  }
  std::string key = std::string(kApiKeyPrefix);
  key += Base64UrlEncode(
      std::string_view(reinterpret_cast<const char*>(random), sizeof(random)));
  OPENSSL_cleanse(random, sizeof(random));
  return key;
}

std::string HashApiKey(std::string_view key) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // EVP_Digest fails only when memory runs out; an empty hash then matches
  // nothing, so the key is refused rather than accepted.
  if (EVP_Digest(key.data(), key.size(), digest, &length, EVP_sha256(),
                 nullptr) != 1) {
    return std::string();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::StatusOr<std::string> ParseBearer(std::string_view authorization_header) {
  const absl::string_view header = absl::StripAsciiWhitespace(absl::string_view(
      authorization_header.data(), authorization_header.size()));
  if (header.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("missing API key: ", kBearerUsage));
  }
  const size_t space = header.find_first_of(" \t");
  const absl::string_view scheme = header.substr(0, space);
  if (!absl::EqualsIgnoreCase(scheme, "Bearer")) {
    // Never echo the header: without the "Bearer " prefix it is usually the
    // key itself.
    return absl::UnauthenticatedError(
        absl::StrCat("the authorization header must use the Bearer scheme: ",
                     kBearerUsage));
  }
  if (space == absl::string_view::npos) {
    return absl::UnauthenticatedError(
        absl::StrCat("empty bearer token: ", kBearerUsage));
  }
  const absl::string_view token =
      absl::StripLeadingAsciiWhitespace(header.substr(space));
  if (token.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("empty bearer token: ", kBearerUsage));
  }
  if (token.find_first_of(" \t") != absl::string_view::npos) {
    return absl::UnauthenticatedError(
        "malformed bearer token: it contains whitespace");
  }
  if (token.size() > kMaxBearerTokenLength) {
    return absl::UnauthenticatedError(
        absl::StrCat("bearer token too long (", token.size(),
                     " characters; API keys have ", kApiKeyLength, ")"));
  }
  return std::string(token);
}

}  // namespace ptune::auth

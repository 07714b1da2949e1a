#include "server/auth/authenticator.h"

#include <fstream>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/auth/api_key.h"

namespace ptune::auth {
namespace {

using ::testing::HasSubstr;

// An in-memory directory, keyed by hash like the store.
class FakeKeyDirectory : public KeyDirectory {
 public:
  void Add(const std::string& key, const std::string& tenant) {
    absl::MutexLock lock(&mu_);
    tenants_[HashApiKey(key)] = tenant;
  }
  void Revoke(const std::string& key) {
    absl::MutexLock lock(&mu_);
    tenants_.erase(HashApiKey(key));
  }
  void FailWith(absl::Status status) {
    absl::MutexLock lock(&mu_);
    failure_ = std::move(status);
  }
  int lookups() {
    absl::MutexLock lock(&mu_);
    return lookups_;
  }

  absl::StatusOr<std::string> TenantForKeyHash(std::string_view hash) override {
    absl::MutexLock lock(&mu_);
    ++lookups_;
    if (!failure_.ok()) return failure_;
    auto it = tenants_.find(std::string(hash));
    if (it == tenants_.end()) return absl::NotFoundError("no such key hash");
    return it->second;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> tenants_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  int lookups_ ABSL_GUARDED_BY(mu_) = 0;
};

std::string WriteFile(const std::string& name, const std::string& contents) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
  return path;
}

constexpr char kAdminKey[] = "admin-0123456789abcdefghijklmnopqrstuvwxyz";

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest() {
    tenant_key_ = *GenerateApiKey();
    directory_.Add(tenant_key_, "tenant-a");
  }

  FakeKeyDirectory directory_;
  Authenticator auth_{&directory_};
  std::string tenant_key_;
};

TEST_F(AuthenticatorTest, ResolvesTenantKeys) {
  absl::StatusOr<Principal> p = auth_.Authenticate("Bearer " + tenant_key_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->tenant_id, "tenant-a");
  EXPECT_FALSE(p->is_admin);
}

TEST_F(AuthenticatorTest, UnknownAndRevokedKeysGetTheSameAnswer) {
  absl::StatusOr<Principal> unknown =
      auth_.Authenticate("Bearer " + *GenerateApiKey());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnauthenticated);

  directory_.Revoke(tenant_key_);
  absl::StatusOr<Principal> revoked =
      auth_.Authenticate("Bearer " + tenant_key_);
  EXPECT_EQ(revoked.status(), unknown.status());
}

TEST_F(AuthenticatorTest, PassesOnHeaderErrors) {
  absl::StatusOr<Principal> p = auth_.Authenticate("");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(p.status().message(), HasSubstr("missing API key"));
  EXPECT_EQ(directory_.lookups(), 0);
}

TEST_F(AuthenticatorTest, KeepsDirectoryFailuresDistinct) {
  directory_.FailWith(absl::UnavailableError("database is locked"));
  absl::StatusOr<Principal> p = auth_.AuthenticateKey(tenant_key_);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(p.status().message(), HasSubstr("database is locked"));
}

TEST_F(AuthenticatorTest, AdminKeyFromFile) {
  // No admin key yet: the admin key is just an unknown key.
  EXPECT_EQ(auth_.AuthenticateKey(kAdminKey).status().code(),
            absl::StatusCode::kUnauthenticated);

  ASSERT_TRUE(
      auth_.LoadAdminKey(WriteFile("admin_key", std::string(kAdminKey) + "\n"))
          .ok());
  absl::StatusOr<Principal> p =
      auth_.Authenticate(std::string("Bearer ") + kAdminKey);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->is_admin);
  EXPECT_EQ(p->tenant_id, "");
  // Tenant keys still resolve to their tenant, never to admin.
  p = auth_.AuthenticateKey(tenant_key_);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->is_admin);
  // A near miss is not the admin key.
  EXPECT_EQ(auth_.AuthenticateKey(std::string(kAdminKey) + "x").status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorTest, ReloadingTheAdminKeyReplacesIt) {
  const std::string path = WriteFile("rotated_key", kAdminKey);
  ASSERT_TRUE(auth_.LoadAdminKey(path).ok());
  const std::string new_key(40, 'z');
  WriteFile("rotated_key", new_key);
  ASSERT_TRUE(auth_.LoadAdminKey(path).ok());
  EXPECT_TRUE(auth_.AuthenticateKey(new_key)->is_admin);
  EXPECT_EQ(auth_.AuthenticateKey(kAdminKey).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorTest, RejectsBadAdminKeyFiles) {
  absl::Status status = auth_.LoadAdminKey(::testing::TempDir() + "/absent");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("absent"));

  status = auth_.LoadAdminKey(WriteFile("short_key", "secret\n"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("at least 32"));

  status = auth_.LoadAdminKey(WriteFile(
      "spaced_key", std::string(20, 'a') + " " + std::string(20, 'b')));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("whitespace"));

  // A failed load leaves no admin key behind.
  EXPECT_EQ(
      auth_.AuthenticateKey(std::string(20, 'a') + " " + std::string(20, 'b'))
          .status()
          .code(),
      absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace ptune::auth

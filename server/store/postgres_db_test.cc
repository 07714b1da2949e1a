// PostgreSQL-engine specifics: placeholders, concurrent migration, lost
// connections. Needs the server test_store.h describes.
#include "server/store/postgres_db.h"

#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/schema.h"
#include "server/store/store.h"
#include "server/store/test_store.h"

namespace ptune::store {
namespace {

using ::testing::HasSubstr;

TEST(PostgresPlaceholdersTest, NumbersQuestionMarksOutsideLiterals) {
  EXPECT_EQ(postgres::NumberPlaceholders("SELECT a FROM t WHERE a = ? AND b = '?' AND c = ?"),
            "SELECT a FROM t WHERE a = $1 AND b = '?' AND c = $2");
  EXPECT_EQ(postgres::NumberPlaceholders("SELECT 1"), "SELECT 1");
}

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> url = TestStoreUrl("postgres");
    if (absl::IsUnavailable(url.status())) GTEST_SKIP() << url.status().message();
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
  }
  std::string url_;
};

// Replicas starting together: the advisory lock lets exactly one migrate,
// and every one of them opens.
TEST_F(PostgresTest, ConcurrentStartsMigrateOnce) {
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { results[i] = OpenStore(url_).status(); });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  auto db = postgres::Db::Open(url_);
  ASSERT_TRUE(db.ok()) << db.status();
  auto count = (*db)->Prepare("SELECT COUNT(*) FROM schema_migrations");
  ASSERT_TRUE(count.ok());
  ASSERT_TRUE(*count->Step());
  EXPECT_EQ(count->Int(0), schema::LatestSchemaVersion());
}

// The server drops a connection: the call fails UNAVAILABLE (retryable),
// and the pool opens a fresh connection for the next one.
TEST_F(PostgresTest, ALostConnectionIsReplaced) {
  // Named, so only this store's connection is dropped (other suites may
  // share the server).
  const std::string victim = absl::StrCat("victim_", getpid());
  auto store = OpenStore(absl::StrCat(url_, "&application_name=", victim), {.pool_size = 1});
  ASSERT_TRUE(store.ok()) << store.status();
  Tenant t;
  t.name = "survivor";
  auto tenant = (*store)->CreateTenant(t);
  ASSERT_TRUE(tenant.ok()) << tenant.status();
  auto admin = postgres::Db::Open(url_);
  ASSERT_TRUE(admin.ok());
  const std::string kill = absl::StrCat(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '",
      victim, "'");
  ASSERT_TRUE((*admin)->Exec(kill.c_str()).ok());
  absl::Status first = (*store)->GetTenant(tenant->id).status();
  if (!first.ok()) {
    EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable) << first;
    EXPECT_THAT(first.message(), HasSubstr("connection"));
  }
  auto again = (*store)->GetTenant(tenant->id);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->name, "survivor");
}

// One replica waits; another cancels a running job: the waiter hears of it
// at once (the owning replica then stops the job without waiting for its
// next heartbeat).
TEST_F(PostgresTest, JobChangesWakeListenersOnOtherConnections) {
  auto waiter = OpenStore(url_);
  auto writer = OpenStore(url_);
  ASSERT_TRUE(waiter.ok() && writer.ok());
  // The first call subscribes; nothing has happened yet.
  auto none = (*waiter)->WaitForJobChanges(absl::Milliseconds(10));
  ASSERT_TRUE(none.ok()) << none.status();
  Tenant t;
  t.name = "listened";
  auto tenant = (*writer)->CreateTenant(t);
  ASSERT_TRUE(tenant.ok());
  Job job;
  job.tenant_id = tenant->id;
  job.prompt_name = "p";
  auto created = (*writer)->CreateJob(job);
  ASSERT_TRUE(created.ok());
  std::vector<std::string> heard;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (heard.empty() && absl::Now() < deadline) {
    auto changed = (*waiter)->WaitForJobChanges(absl::Milliseconds(200));
    ASSERT_TRUE(changed.ok()) << changed.status();
    heard.insert(heard.end(), changed->begin(), changed->end());
  }
  EXPECT_THAT(heard, ::testing::Contains(created->id));
  heard.clear();
  ASSERT_TRUE((*writer)->CancelJob(tenant->id, created->id, "stop", absl::Now()).ok());
  const absl::Time cancelled = absl::Now();
  while (heard.empty() && absl::Now() < cancelled + absl::Seconds(5)) {
    auto changed = (*waiter)->WaitForJobChanges(absl::Milliseconds(200));
    ASSERT_TRUE(changed.ok()) << changed.status();
    heard.insert(heard.end(), changed->begin(), changed->end());
  }
  EXPECT_THAT(heard, ::testing::Contains(created->id));
  EXPECT_LT(absl::Now() - cancelled, absl::Seconds(1));
}

}  // namespace
}  // namespace ptune::store

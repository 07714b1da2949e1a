// SQLite-engine specifics: schema migrations, file settings, concurrency.
#include "server/store/sql_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/digest.h"
#include "server/store/schema.h"
#include "server/store/sqlite_db.h"
#include "server/store/store.h"

namespace ptune::store {
namespace {

using ::testing::HasSubstr;

std::string FreshPath() {
  static int counter = 0;
  const std::string dir = absl::StrCat(::testing::TempDir(), "/ptune_sqlite_",
                                       getpid(), "_", counter++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir + "/ptune.db";
}

// A store on `path` migrated only up to `schema_version` (-1: latest), as
// an older binary left it.
absl::StatusOr<std::unique_ptr<SqlStore>> OpenAt(const std::string& path,
                                                 int schema_version = -1) {
  auto pool = sql::ConnectionPool::Create(
      1, [path]() -> absl::StatusOr<std::unique_ptr<sql::Connection>> {
        auto db = sqlite::Db::Open(path, absl::Seconds(10));
        if (!db.ok()) return db.status();
        return std::unique_ptr<sql::Connection>(std::move(*db));
      });
  if (!pool.ok()) return pool.status();
  return SqlStore::Create(*std::move(pool), schema_version);
}

// Runs one SQL statement through a separate raw connection and returns the
// first column of the first row ("" when none).
std::string RawQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  std::string result;
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
    result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  EXPECT_TRUE(rc == SQLITE_ROW || rc == SQLITE_DONE) << sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return result;
}

TEST(SqliteStoreTest, FileIsInWalModeAtLatestSchema) {
  const std::string path = FreshPath();
  auto store = OpenAt(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(RawQuery(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(*(*store)->SchemaVersion(), schema::LatestSchemaVersion());
  EXPECT_GE(schema::LatestSchemaVersion(), 3);
}

TEST(SqliteStoreTest, OpeningAnOlderFileMigratesIt) {
  const std::string path = FreshPath();
  std::string tenant_id;
  {
    auto old = OpenAt(path, 1);
    ASSERT_TRUE(old.ok()) << old.status();
    EXPECT_EQ(*(*old)->SchemaVersion(), 1);
    Tenant t;
    t.name = "legacy";
    tenant_id = (*old)->CreateTenant(t)->id;
  }
  EXPECT_EQ(RawQuery(path, "SELECT name FROM sqlite_master WHERE name = "
                           "'jobs_by_state'"),
            "");

  auto store = OpenStore(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(RawQuery(path, "SELECT MAX(version) FROM schema_migrations"),
            absl::StrCat(schema::LatestSchemaVersion()));
  EXPECT_EQ(RawQuery(path, "SELECT name FROM sqlite_master WHERE name = "
                           "'jobs_by_state'"),
            "jobs_by_state");
  EXPECT_EQ((*store)->GetTenant(tenant_id)->name, "legacy");
}

TEST(SqliteStoreTest, ANewerSchemaIsRefused) {
  const std::string path = FreshPath();
  ASSERT_TRUE(OpenStore(path).ok());
  RawQuery(path,
           "INSERT INTO schema_migrations (version, applied_at) VALUES "
           "(999, 0)");
  auto store = OpenStore(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("999"));
}

// A v2 file (before leases, digests and version counters) with a prompt
// and a job left running: the migration backfills digests and counters, and
// the first reclaim takes the job, which had no lease.
TEST(SqliteStoreTest, MigratingToV3BackfillsDigestsCountersAndLeases) {
  const std::string path = FreshPath();
  std::string tenant_id;
  {
    auto old = OpenAt(path, 2);
    ASSERT_TRUE(old.ok()) << old.status();
    Tenant t;
    t.name = "legacy";
    tenant_id = (*old)->CreateTenant(t)->id;
  }
  RawQuery(path, absl::StrCat("INSERT INTO prompt_versions VALUES ('", tenant_id,
                              "', 'p', 4, 'ready', 'classify', '{}', '[]', '{}', "
                              "X'0102', '{}', 'job_x', 4, 0)"));
  RawQuery(path, absl::StrCat("INSERT INTO datasets VALUES ('ds_x', '", tenant_id,
                              "', 'old', 'classify', 'jsonl', X'6869', 2, 1, 0)"));
  RawQuery(path, absl::StrCat("INSERT INTO jobs VALUES ('job_x', 7, '", tenant_id,
                              "', 'p', 4, 'running', '', '{}', 0, 0, NULL, '{}', "
                              "X'', 0, 0)"));
  auto store = OpenStore(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->GetPromptMetadata(tenant_id, "p", 4)->digest,
            ArtifactDigest(std::string("\x01\x02"), "{}"));
  auto old_dataset = (*store)->GetDataset(tenant_id, "ds_x");  // content in its own column
  ASSERT_TRUE(old_dataset.ok()) << old_dataset.status();
  EXPECT_EQ(old_dataset->content, "hi");
  EXPECT_EQ(old_dataset->digest, Sha256Hex("hi"));
  ASSERT_TRUE((*store)->DeletePrompt(tenant_id, "p").ok());
  PromptVersion next;
  next.tenant_id = tenant_id;
  next.name = "p";
  next.task = "classify";
  EXPECT_EQ((*store)->CreatePromptVersion(next)->version, 5);  // not 1
  EXPECT_EQ(*(*store)->ReclaimExpiredJobs(3), 1);
  EXPECT_EQ((*store)->GetJob(tenant_id, "job_x")->state, JobState::kQueued);
  Job job;
  job.tenant_id = tenant_id;
  job.prompt_name = "q";
  ASSERT_TRUE((*store)->CreateJob(job).ok());
  EXPECT_EQ(RawQuery(path, "SELECT MAX(seq) FROM jobs"), "8");
}

// One process per SQLite file publishes its job changes in memory: no
// notifications, and callers poll.
TEST(SqliteStoreTest, HasNoJobNotifications) {
  auto store = OpenStore(FreshPath());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->WaitForJobChanges(absl::Milliseconds(1)).status().code(),
            absl::StatusCode::kUnimplemented);
}

// Threads hammer one store, and a second connection to the same file, with
// version creation: numbering must stay dense and unique across
// connections too.
TEST(SqliteStoreTest, ConcurrentWritersKeepVersionsUnique) {
  const std::string path = FreshPath();
  auto first = OpenStore(path);
  auto second = OpenStore(path);
  ASSERT_TRUE(first.ok() && second.ok());
  Tenant t;
  t.name = "busy";
  const std::string tenant_id = (*first)->CreateTenant(t)->id;

  constexpr int kThreads = 6;
  constexpr int kPerThread = 15;
  std::vector<std::thread> threads;
  std::vector<std::vector<int>> versions(kThreads);
  std::vector<int> failures(kThreads, 0);
  for (int i = 0; i < kThreads; ++i) {
    Store* store = (i % 2 == 0 ? first : second)->get();
    threads.emplace_back([&, i, store] {
      for (int k = 0; k < kPerThread; ++k) {
        PromptVersion p;
        p.tenant_id = tenant_id;
        p.name = "shared";
        p.task = "tag";
        auto created = store->CreatePromptVersion(p);
        if (!created.ok()) {
          ++failures[i];
          continue;
        }
        versions[i].push_back(created->version);
        Job job;
        job.tenant_id = tenant_id;
        job.prompt_name = "shared";
        job.prompt_version = created->version;
        if (!store->CreateJob(job).ok()) ++failures[i];
      }
    });
  }
  for (auto& thread : threads) thread.join();

  std::set<int> all;
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(failures[i], 0) << "thread " << i;
    all.insert(versions[i].begin(), versions[i].end());
  }
  EXPECT_EQ(all.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kPerThread);
  EXPECT_EQ(*(*first)->CountJobsInState(JobState::kQueued), kThreads * kPerThread);
  auto summaries = (*second)->ListPrompts(tenant_id);
  ASSERT_EQ(summaries->size(), 1u);
  EXPECT_EQ((*summaries)[0].versions.size(), size_t{kThreads * kPerThread});
}

}  // namespace
}  // namespace ptune::store

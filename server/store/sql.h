// The engine-neutral SQL layer under SqlStore: a connection, statements with
// `?` parameters, transactions and a connection pool. SQLite (sqlite_db.h)
// and PostgreSQL (postgres_db.h) implement it, so the store's queries are
// written once. Internal to server/store.
#ifndef PTUNE_SERVER_STORE_SQL_H_
#define PTUNE_SERVER_STORE_SQL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ptune::store::sql {

// Bytes to bind as a BLOB / BYTEA (a plain string binds as TEXT). The bytes
// must stay alive until the statement has run: engines may send them
// without copying.
struct Blob {
  absl::string_view bytes;
};

int64_t ToMicros(absl::Time t);
absl::Time FromMicros(int64_t micros);

// What differs between the engines' SQL. Queries splice these in.
struct Dialect {
  const char* name;        // "sqlite" | "postgres"
  const char* blob_type;   // column type of byte strings
  // Appended to a SELECT that must lock its rows until the transaction ends
  // (SQLite's write transactions already exclude every other writer).
  const char* for_update;
  // The same, skipping rows another transaction holds (job claims).
  const char* for_update_skip_locked;
  // An SQL expression for the database's clock, in unix microseconds: leases
  // are judged by one clock, not by each replica's.
  const char* now_micros;
  // A statement with one `?` (the payload) that tells every listening
  // connection something changed, delivered at commit; null where the
  // engine has no notifications (SQLite: one process, which publishes its
  // own changes in memory).
  const char* notify_jobs;
};

// One engine's statement. Parameters are 1-based, columns 0-based.
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void BindNull(int index) = 0;
  virtual void BindInt(int index, int64_t value) = 0;
  virtual void BindDouble(int index, double value) = 0;
  virtual void BindText(int index, absl::string_view text) = 0;
  virtual void BindBlob(int index, absl::string_view bytes) = 0;
  // Runs the statement on the first call; true while a row is ready.
  virtual absl::StatusOr<bool> Step() = 0;
  virtual int64_t changes() const = 0;  // rows changed by the last run
  virtual int64_t Int(int col) const = 0;
  virtual double Double(int col) const = 0;
  virtual std::string Text(int col) const = 0;  // TEXT or BLOB bytes
  virtual bool IsNull(int col) const = 0;
};

// A prepared statement for one execution, as the store uses it.
//
// Thread-safety: none; one connection is used by one thread at a time.
class Statement {
 public:
  explicit Statement(std::unique_ptr<StatementImpl> impl)
      : impl_(std::move(impl)) {}
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;

  // Binds the values to parameters 1..n in order.
  template <typename... Args>
  Statement& BindAll(const Args&... args) {
    int index = 1;
    (Bind(index++, args), ...);
    return *this;
  }
  void Bind(int index, int64_t value) { impl_->BindInt(index, value); }
  void Bind(int index, int value) { Bind(index, static_cast<int64_t>(value)); }
  void Bind(int index, bool value) { Bind(index, int64_t{value ? 1 : 0}); }
  void Bind(int index, double value) { impl_->BindDouble(index, value); }
  void Bind(int index, absl::string_view text) { impl_->BindText(index, text); }
  void Bind(int index, const std::string& text) {
    Bind(index, absl::string_view(text));
  }
  void Bind(int index, const char* text) { Bind(index, absl::string_view(text)); }
  void Bind(int index, Blob blob) { impl_->BindBlob(index, blob.bytes); }
  void Bind(int index, absl::Time time) { Bind(index, ToMicros(time)); }
  void Bind(int index, absl::Duration d) {
    Bind(index, absl::ToInt64Microseconds(d));
  }
  void Bind(int index, const std::optional<absl::Time>& time) {
    if (time.has_value()) {
      Bind(index, *time);
    } else {
      impl_->BindNull(index);
    }
  }
  void Bind(int index, std::nullopt_t) { impl_->BindNull(index); }

  // Advances: true when a row is ready, false when done.
  absl::StatusOr<bool> Step() { return impl_->Step(); }
  // Runs to completion (statements without rows, or whose rows are unused).
  absl::Status Run();
  int64_t changes() const { return impl_->changes(); }

  int64_t Int(int col) const { return impl_->Int(col); }
  double Double(int col) const { return impl_->Double(col); }
  bool Bool(int col) const { return Int(col) != 0; }
  std::string Text(int col) const { return impl_->Text(col); }
  bool IsNull(int col) const { return impl_->IsNull(col); }
  absl::Time Time(int col) const { return FromMicros(Int(col)); }
  std::optional<absl::Time> OptionalTime(int col) const {
    if (IsNull(col)) return std::nullopt;
    return Time(col);
  }

 private:
  std::unique_ptr<StatementImpl> impl_;
};

// One database connection.
//
// Errors: unique violations are ALREADY_EXISTS, foreign-key violations
// NOT_FOUND, lock timeouts and lost connections UNAVAILABLE, deadlocks and
// serialization failures ABORTED (the transaction may be retried), anything
// else INTERNAL.
//
// Thread-safety: none; the pool hands a connection to one thread at a time.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual const Dialect& dialect() const = 0;
  // A statement for `sql` (`?` parameters), prepared once per connection.
  virtual absl::StatusOr<Statement> Prepare(const char* sql) = 0;
  // Runs one or more statements without parameters (schema, BEGIN, ...).
  virtual absl::Status Exec(const char* sql) = 0;
  // BEGIN as this engine wants a writing transaction to start.
  virtual absl::Status Begin() = 0;
  // Serializes schema migrations across processes for the scope of the
  // returned lock (PostgreSQL: an advisory lock; SQLite: its write lock per
  // migration is enough, so this does nothing).
  virtual absl::Status LockMigrations() = 0;
  virtual absl::Status UnlockMigrations() = 0;
  // False once the connection is unusable (the server went away); the pool
  // replaces it.
  virtual bool healthy() const = 0;
  // Waits up to `timeout` for notifications on the job channel (after a
  // first call has subscribed this connection) and returns their payloads,
  // possibly none. UNIMPLEMENTED where Dialect::notify_jobs is null.
  virtual absl::StatusOr<std::vector<std::string>> WaitForJobNotifications(
      absl::Duration timeout) {
    (void)timeout;
    return absl::UnimplementedError("this engine has no notifications");
  }
  // Where CountRoundTrip adds (the pool's counter); null: nowhere.
  void set_round_trip_counter(std::atomic<int64_t>* counter) { counter_ = counter; }

 protected:
  // Implementations call this for every statement and transaction command
  // they send to the database.
  void CountRoundTrip() {
    if (counter_ != nullptr) counter_->fetch_add(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<int64_t>* counter_ = nullptr;
};

// BEGIN on Start; ROLLBACK on destruction unless committed.
class Transaction {
 public:
  static absl::StatusOr<std::unique_ptr<Transaction>> Start(Connection* c);
  ~Transaction();
  absl::Status Commit();

 private:
  explicit Transaction(Connection* c) : c_(c) {}
  Connection* c_;
  bool done_ = false;
};

// A fixed number of connections, opened on demand and replaced when they
// fail.
//
// Thread-safety: thread-safe. Ownership: owns the connections.
class ConnectionPool {
 public:
  using Factory = absl::AnyInvocable<absl::StatusOr<std::unique_ptr<Connection>>()>;

  // Opens one connection now (so a bad URL fails at start-up).
  static absl::StatusOr<std::unique_ptr<ConnectionPool>> Create(int size,
                                                                 Factory factory);

  // A connection held by one thread until destroyed.
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> c)
        : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&& other) noexcept = default;
    ~Lease();
    Connection* operator->() const { return c_.get(); }
    Connection& operator*() const { return *c_; }
    Connection* get() const { return c_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> c_;
  };

  // Waits for a free connection (opening one when the pool is not full).
  absl::StatusOr<Lease> Acquire();

  // A connection of its own, outside the pool's count (a listener that
  // waits for notifications for as long as it lives).
  absl::StatusOr<std::unique_ptr<Connection>> OpenDedicated();

  // Statements and transaction commands sent over every connection.
  int64_t round_trips() const { return round_trips_.load(std::memory_order_relaxed); }

 private:
  ConnectionPool(int size, Factory factory)
      : size_(size), factory_(std::move(factory)) {}
  absl::StatusOr<std::unique_ptr<Connection>> Open() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Return(std::unique_ptr<Connection> c);

  const int size_;
  Factory factory_;  // called under mu_
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + leased
  std::atomic<int64_t> round_trips_{0};
};

}  // namespace ptune::store::sql

#endif  // PTUNE_SERVER_STORE_SQL_H_

#include "server/store/sql.h"

#include <utility>

namespace ptune::store::sql {

int64_t ToMicros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t micros) { return absl::FromUnixMicros(micros); }

absl::Status Statement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

absl::StatusOr<std::unique_ptr<Transaction>> Transaction::Start(Connection* c) {
  absl::Status status = c->Begin();
  if (!status.ok()) return status;
  return std::unique_ptr<Transaction>(new Transaction(c));
}

Transaction::~Transaction() {
  if (!done_ && c_->healthy()) c_->Exec("ROLLBACK").IgnoreError();
}

absl::Status Transaction::Commit() {
  absl::Status status = c_->Exec("COMMIT");
  if (status.ok()) done_ = true;
  return status;
}

absl::StatusOr<std::unique_ptr<ConnectionPool>> ConnectionPool::Create(
    int size, Factory factory) {
  if (size < 1) return absl::InvalidArgumentError("a connection pool needs size >= 1");
  std::unique_ptr<ConnectionPool> pool(new ConnectionPool(size, std::move(factory)));
  absl::MutexLock lock(&pool->mu_);
  absl::StatusOr<std::unique_ptr<Connection>> first = pool->Open();
  if (!first.ok()) return first.status();
  pool->idle_.push_back(*std::move(first));
  return pool;
}

absl::StatusOr<std::unique_ptr<Connection>> ConnectionPool::Open() {
  absl::StatusOr<std::unique_ptr<Connection>> c = factory_();
  if (!c.ok()) return c.status();
  (*c)->set_round_trip_counter(&round_trips_);
  ++open_;
  return c;
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire() {
  absl::MutexLock lock(&mu_);
  auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !idle_.empty() || open_ < size_;
  };
  mu_.Await(absl::Condition(&available));
  if (!idle_.empty()) {
    std::unique_ptr<Connection> c = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(c));
  }
  absl::StatusOr<std::unique_ptr<Connection>> c = Open();
  if (!c.ok()) return c.status();
  return Lease(this, *std::move(c));
}

absl::StatusOr<std::unique_ptr<Connection>> ConnectionPool::OpenDedicated() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::unique_ptr<Connection>> c = factory_();
  if (c.ok()) (*c)->set_round_trip_counter(&round_trips_);
  return c;
}

void ConnectionPool::Return(std::unique_ptr<Connection> c) {
  absl::MutexLock lock(&mu_);
  if (c->healthy()) {
    idle_.push_back(std::move(c));
  } else {
    --open_;  // dropped; the next Acquire opens a fresh one
  }
}

ConnectionPool::Lease::~Lease() {
  if (c_ != nullptr) pool_->Return(std::move(c_));
}

}  // namespace ptune::store::sql

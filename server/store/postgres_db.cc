#include "server/store/postgres_db.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>

#include <cstring>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace ptune::store::postgres {
namespace {

// Type OIDs (pg_type.h) of the columns the store reads.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;

uint64_t BigEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

class PgStatement : public sql::StatementImpl {
 public:
  PgStatement(Db* db, pg_conn* conn, std::string name, std::function<void()> count)
      : db_(db), conn_(conn), name_(std::move(name)), count_(std::move(count)) {}
  ~PgStatement() override {
    if (result_ != nullptr) PQclear(result_);
  }

  void BindNull(int index) override { Slot(index) = Param{}; }
  void BindInt(int index, int64_t value) override {
    Slot(index) = Param{absl::StrCat(value), {}, false, false};
  }
  void BindDouble(int index, double value) override {
    Slot(index) = Param{absl::StrFormat("%.17g", value), {}, false, false};
  }
  void BindText(int index, absl::string_view text) override {
    Slot(index) = Param{std::string(text), {}, false, false};
  }
  void BindBlob(int index, absl::string_view bytes) override {
    Slot(index) = Param{{}, bytes, true, false};  // sent without a copy
  }

  absl::StatusOr<bool> Step() override {
    if (result_ == nullptr) {
      std::vector<const char*> values(params_.size());
      std::vector<int> lengths(params_.size()), formats(params_.size());
      for (size_t i = 0; i < params_.size(); ++i) {
        const Param& p = params_[i];
        if (p.null) continue;
        const absl::string_view v = p.binary ? p.bytes : absl::string_view(p.text);
        static const char kEmpty = 0;
        values[i] = v.empty() ? &kEmpty : v.data();
        lengths[i] = static_cast<int>(v.size());
        formats[i] = p.binary ? 1 : 0;
      }
      count_();
      result_ = PQexecPrepared(conn_, name_.c_str(), static_cast<int>(params_.size()),
                               values.data(), lengths.data(), formats.data(),
                               /*resultFormat=*/1);
      const ExecStatusType status = PQresultStatus(result_);
      if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        return db_->Error(result_, "postgres statement");
      }
      rows_ = PQntuples(result_);
      row_ = -1;
    }
    ++row_;
    return row_ < rows_;
  }

  int64_t changes() const override {
    if (result_ == nullptr) return 0;
    int64_t n = 0;
    return absl::SimpleAtoi(PQcmdTuples(result_), &n) ? n : 0;
  }

  int64_t Int(int col) const override {
    if (IsNull(col)) return 0;
    const char* v = PQgetvalue(result_, row_, col);
    switch (PQftype(result_, col)) {
      case kInt8Oid: return static_cast<int64_t>(BigEndian(v, 8));
      case kInt4Oid: return static_cast<int32_t>(BigEndian(v, 4));
      case kInt2Oid: return static_cast<int16_t>(BigEndian(v, 2));
      case kBoolOid: return v[0] != 0;
      default: return 0;  // the store casts every integer it reads to BIGINT
    }
  }
  double Double(int col) const override {
    if (IsNull(col)) return 0;
    const char* v = PQgetvalue(result_, row_, col);
    if (PQftype(result_, col) == kFloat4Oid) {
      const uint32_t bits = static_cast<uint32_t>(BigEndian(v, 4));
      float f;
      std::memcpy(&f, &bits, sizeof(f));
      return f;
    }
    if (PQftype(result_, col) == kFloat8Oid) {
      const uint64_t bits = BigEndian(v, 8);
      double d;
      std::memcpy(&d, &bits, sizeof(d));
      return d;
    }
    return static_cast<double>(Int(col));
  }
  std::string Text(int col) const override {
    if (IsNull(col)) return std::string();
    // Binary results: text and bytea are their raw bytes.
    return std::string(PQgetvalue(result_, row_, col), PQgetlength(result_, row_, col));
  }
  bool IsNull(int col) const override { return PQgetisnull(result_, row_, col) != 0; }

 private:
  struct Param {
    std::string text;
    absl::string_view bytes;
    bool binary = false;
    bool null = true;
  };
  Param& Slot(int index) {
    if (static_cast<int>(params_.size()) < index) params_.resize(index);
    params_[index - 1].null = false;
    return params_[index - 1];
  }

  Db* db_;
  pg_conn* conn_;
  std::string name_;
  std::function<void()> count_;
  std::vector<Param> params_;
  PGresult* result_ = nullptr;
  int rows_ = 0;
  int row_ = -1;
};

// A fixed key for pg_advisory_lock: "ptune" in ASCII.
constexpr char kMigrationLock[] = "SELECT pg_advisory_lock(482184540773)";
constexpr char kMigrationUnlock[] = "SELECT pg_advisory_unlock(482184540773)";

void IgnoreNotice(void*, const char*) {}

}  // namespace

const sql::Dialect& PostgresDialect() {
  static const sql::Dialect kDialect{
      .name = "postgres",
      .blob_type = "BYTEA",
      .for_update = " FOR UPDATE",
      // The claim query names its jobs table j.
      .for_update_skip_locked = " FOR UPDATE OF j SKIP LOCKED",
      .now_micros = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
      .notify_jobs = "SELECT pg_notify('ptune_jobs', ?)",
  };
  return kDialect;
}

std::string NumberPlaceholders(const char* sql) {
  std::string out;
  int n = 0;
  bool quoted = false;
  for (const char* p = sql; *p != '\0'; ++p) {
    if (*p == '\'') quoted = !quoted;
    if (*p == '?' && !quoted) {
      absl::StrAppend(&out, "$", ++n);
    } else {
      out.push_back(*p);
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& uri) {
  pg_conn* conn = PQconnectdb(uri.c_str());
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq could not allocate a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    // libpq's message names host/port/user, never the password.
    absl::Status status = absl::UnavailableError(absl::StrCat(
        "cannot connect to PostgreSQL database '", PQdb(conn) ? PQdb(conn) : "", "' on ",
        PQhost(conn) ? PQhost(conn) : "", ":", PQport(conn) ? PQport(conn) : "", ": ",
        PQerrorMessage(conn)));
    PQfinish(conn);
    return status;
  }
  PQsetNoticeProcessor(conn, &IgnoreNotice, nullptr);
  std::unique_ptr<Db> db(new Db(conn));
  // Lock waits end rather than hang a request forever behind a stuck
  // transaction; the caller gets UNAVAILABLE and may retry.
  if (absl::Status s = db->Exec("SET lock_timeout = '10s'"); !s.ok()) return s;
  return db;
}

Db::~Db() { PQfinish(conn_); }

bool Db::healthy() const { return !broken_ && PQstatus(conn_) == CONNECTION_OK; }

absl::Status Db::Error(const void* result_ptr, const char* what) {
  const PGresult* result = static_cast<const PGresult*>(result_ptr);
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string message =
      absl::StrCat(what, ": ",
                   result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    return absl::UnavailableError(absl::StrCat("the PostgreSQL connection was lost: ", message));
  }
  const absl::string_view code = state != nullptr ? state : "";
  if (code == "23505") return absl::AlreadyExistsError(message);
  if (code == "23503") return absl::NotFoundError(message);
  if (code == "40001" || code == "40P01") return absl::AbortedError(message);
  if (code == "55P03" || code == "57014" || code == "53300" || absl::StartsWith(code, "08")) {
    return absl::UnavailableError(message);
  }
  if (absl::StartsWith(code, "23") || absl::StartsWith(code, "22")) {
    return absl::InvalidArgumentError(message);
  }
  return absl::InternalError(message);
}

absl::StatusOr<sql::Statement> Db::Prepare(const char* sql) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    const std::string name = absl::StrCat("ptune_", prepared_.size() + 1);
    const std::string text = NumberPlaceholders(sql);
    CountRoundTrip();
    PGresult* result = PQprepare(conn_, name.c_str(), text.c_str(), 0, nullptr);
    const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    absl::Status status = ok ? absl::OkStatus() : Error(result, "postgres prepare");
    PQclear(result);
    if (!status.ok()) return status;
    it = prepared_.emplace(sql, name).first;
  }
  return sql::Statement(
      std::make_unique<PgStatement>(this, conn_, it->second, [this] { CountRoundTrip(); }));
}

absl::Status Db::Exec(const char* sql) {
  CountRoundTrip();
  PGresult* result = PQexec(conn_, sql);
  const ExecStatusType status = PQresultStatus(result);
  absl::Status out = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK
                         ? absl::OkStatus()
                         : Error(result, "postgres exec");
  PQclear(result);
  return out;
}

absl::StatusOr<std::vector<std::string>> Db::WaitForJobNotifications(absl::Duration timeout) {
  if (!listening_) {
    if (absl::Status s = Exec("LISTEN ptune_jobs"); !s.ok()) return s;
    listening_ = true;
  }
  std::vector<std::string> payloads;
  auto drain = [&] {
    while (PGnotify* n = PQnotifies(conn_)) {
      payloads.emplace_back(n->extra != nullptr ? n->extra : "");
      PQfreemem(n);
    }
  };
  drain();
  if (!payloads.empty()) return payloads;
  const int fd = PQsocket(conn_);
  if (fd < 0) {
    broken_ = true;
    return absl::UnavailableError("the PostgreSQL connection has no socket");
  }
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  const int ready = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (ready < 0 && errno != EINTR) return absl::InternalError("poll on the PostgreSQL socket failed");
  if (ready > 0) {
    if (PQconsumeInput(conn_) == 0) return Error(nullptr, "postgres listen");
    drain();
  }
  return payloads;
}

absl::Status Db::LockMigrations() { return Exec(kMigrationLock); }
absl::Status Db::UnlockMigrations() { return Exec(kMigrationUnlock); }

}  // namespace ptune::store::postgres

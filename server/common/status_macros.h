// Early-return helpers for absl::Status / absl::StatusOr, as in TF Serving and
// abseil's internal macros. Header-only; safe to include anywhere.
#ifndef PTUNE_SERVER_COMMON_STATUS_MACROS_H_
#define PTUNE_SERVER_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define PTUNE_STATUS_CONCAT_INNER_(a, b) a##b
#define PTUNE_STATUS_CONCAT_(a, b) PTUNE_STATUS_CONCAT_INNER_(a, b)

// Returns `expr` from the enclosing function if it is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status ptune_status_ = (expr);             \
    if (!ptune_status_.ok()) return ptune_status_;     \
  } while (false)

// ASSIGN_OR_RETURN(lhs, expr): evaluates the StatusOr `expr`; returns its
// status on error, otherwise moves the value into `lhs` (which may declare a
// variable, e.g. `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  PTUNE_ASSIGN_OR_RETURN_IMPL_(     \
      PTUNE_STATUS_CONCAT_(ptune_statusor_, __LINE__), lhs, expr)

#define PTUNE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // PTUNE_SERVER_COMMON_STATUS_MACROS_H_

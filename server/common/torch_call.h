// The one place where LibTorch exceptions become absl::Status (ARCHITECTURE §5).
// Every call into LibTorch that can throw on bad input or on memory pressure
// goes through TorchCall so that no exception crosses a module boundary.
#ifndef PTUNE_SERVER_COMMON_TORCH_CALL_H_
#define PTUNE_SERVER_COMMON_TORCH_CALL_H_

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ptune::common {

// Maps the exception currently being handled to a Status: out-of-memory
// (c10::OutOfMemoryError, std::bad_alloc) -> RESOURCE_EXHAUSTED, any other
// c10::Error or std::exception -> INTERNAL. `what` names the operation.
// Must be called from inside a catch block.
absl::Status StatusFromCurrentException(absl::string_view what);

namespace internal {
template <typename T>
struct IsStatusOr : std::false_type {};
template <typename T>
struct IsStatusOr<absl::StatusOr<T>> : std::true_type {};
}  // namespace internal

// Runs `fn` and converts any exception it throws. `fn` returns void, a value
// T, an absl::Status or an absl::StatusOr<T>; the result is absl::Status for
// void/Status and absl::StatusOr<T> otherwise.
template <typename Fn>
auto TorchCall(absl::string_view what, Fn&& fn) {
  using R = std::invoke_result_t<Fn>;
  if constexpr (std::is_void_v<R>) {
    try {
      std::forward<Fn>(fn)();
      return absl::OkStatus();
    } catch (...) {
      return StatusFromCurrentException(what);
    }
  } else if constexpr (std::is_same_v<R, absl::Status>) {
    try {
      return std::forward<Fn>(fn)();
    } catch (...) {
      return StatusFromCurrentException(what);
    }
  } else {
    using Out = std::conditional_t<internal::IsStatusOr<R>::value, R,
                                   absl::StatusOr<R>>;
    try {
      return Out(std::forward<Fn>(fn)());
    } catch (...) {
      return Out(StatusFromCurrentException(what));
    }
  }
}

}  // namespace ptune::common

#endif  // PTUNE_SERVER_COMMON_TORCH_CALL_H_

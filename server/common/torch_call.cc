#include "server/common/torch_call.h"

#include <new>

#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"

namespace ptune::common {
namespace {

// c10 messages carry a multi-line C++ backtrace; keep the first line only.
std::string FirstLine(const char* message) {
  std::string s(message);
  const auto newline = s.find('\n');
  if (newline != std::string::npos) s.resize(newline);
  return s;
}

}  // namespace

absl::Status StatusFromCurrentException(absl::string_view what) {
  try {
    throw;
  } catch (const c10::OutOfMemoryError& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, ": out of device memory: ", FirstLine(e.what())));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory"));
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(what, ": ", FirstLine(e.what_without_backtrace())));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what, ": ", FirstLine(e.what())));
  } catch (...) {
    return absl::InternalError(absl::StrCat(what, ": unknown exception"));
  }
}

}  // namespace ptune::common

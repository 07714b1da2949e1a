#include "server/safetensors/util.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ptune::safetensors::internal {
namespace {

constexpr size_t kMaxQuotedBytes = 120;

bool MulInt64(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

}  // namespace

absl::StatusOr<uint64_t> CheckedByteSize(const std::vector<int64_t>& shape,
                                         DType dtype) {
  int64_t nonzero_product = 1;
  bool has_zero = false;
  for (int64_t dim : shape) {
    if (dim < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shape ", ShapeToString(shape), " has a negative dimension"));
    }
    if (dim == 0) {
      has_zero = true;
      continue;
    }
    if (!MulInt64(nonzero_product, dim, &nonzero_product)) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", ShapeToString(shape),
                       " overflows: its element count "
                       "does not fit in 64 bits"));
    }
  }
  int64_t nbytes = 0;
  if (!MulInt64(nonzero_product, static_cast<int64_t>(DTypeSize(dtype)),
                &nbytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shape ", ShapeToString(shape), " of dtype ", DTypeName(dtype),
        " overflows: its byte size does not fit in 64 bits"));
  }
  return has_zero ? 0 : static_cast<uint64_t>(nbytes);
}

// Length of the well-formed UTF-8 sequence at the start of `s` (n > 0
// bytes), or 0 if there is none: no overlong forms, no surrogates, nothing
// above U+10FFFF.
size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  const unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len = 0;
  uint32_t cp = 0;
  uint32_t min_cp = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F, min_cp = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F, min_cp = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07, min_cp = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((s[k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[k] & 0x3F);
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}

bool IsValidUtf8(absl::string_view text, size_t* error_offset) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0; i < text.size();) {
    const size_t len = Utf8SequenceLength(s + i, text.size() - i);
    if (len == 0) {
      if (error_offset != nullptr) *error_offset = i;
      return false;
    }
    i += len;
  }
  return true;
}

std::string ToValidUtf8(absl::string_view text) {
  if (IsValidUtf8(text)) return std::string(text);
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  std::string out;
  out.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    const size_t len = Utf8SequenceLength(s + i, text.size() - i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(text.data() + i, len);
      i += len;
    }
  }
  return out;
}

std::string Quote(absl::string_view text) {
  if (text.size() <= kMaxQuotedBytes) {
    return absl::StrCat("\"", absl::Utf8SafeCHexEscape(text), "\"");
  }
  size_t cut = kMaxQuotedBytes;
  // Do not split a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return absl::StrCat("\"", absl::Utf8SafeCHexEscape(text.substr(0, cut)),
                      "\"... (", text.size(), " bytes)");
}

std::string ShapeToString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace ptune::safetensors::internal

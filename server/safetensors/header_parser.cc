#include "server/safetensors/header_parser.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <new>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/safetensors/util.h"

namespace ptune::safetensors::internal {
namespace {

using ::nlohmann::json;

constexpr absl::string_view kMetadataKey = "__metadata__";

template <typename... Args>
absl::Status Invalid(const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat(args...));
}

// Rejects nesting deeper than kMaxHeaderDepth before the JSON parser sees it,
// so that a hostile header cannot make the parser build a huge tree of empty
// containers.
absl::Status CheckNesting(absl::string_view text) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxHeaderDepth) {
        return Invalid("header JSON nests deeper than ", kMaxHeaderDepth,
                       " levels");
      }
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return absl::OkStatus();
}

// Parses the JSON text, rejecting duplicate keys in any object (different
// readers would disagree about which one wins). Exceptions from the parser
// are caught here.
absl::StatusOr<json> ParseJson(absl::string_view text) {
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  bool has_duplicate = false;
  auto callback = [&](int /*depth*/, json::parse_event_t event,
                      json& parsed) -> bool {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!has_duplicate && !open_objects.empty() && parsed.is_string() &&
            !open_objects.back()
                 .insert(parsed.get_ref<const std::string&>())
                 .second) {
          has_duplicate = true;
          duplicate = parsed.get_ref<const std::string&>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  json root;
  try {
    root = json::parse(text.begin(), text.end(), callback,
                       /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    return Invalid("header is not valid JSON (at byte ", e.byte, " of ",
                   text.size(), ")");
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory parsing the header");
  } catch (const std::exception& e) {
    return Invalid("header is not valid JSON: ", e.what());
  }
  if (has_duplicate) {
    return Invalid("header has duplicate key ", Quote(duplicate));
  }
  return root;
}

absl::StatusOr<std::map<std::string, std::string>> ParseMetadata(
    const json& value) {
  if (!value.is_object()) {
    return Invalid(
        "__metadata__ must be an object mapping strings to "
        "strings, got ",
        value.type_name());
  }
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return Invalid("__metadata__ must map strings to strings, but key ",
                     Quote(key), " has a ", item.type_name(), " value");
    }
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

absl::StatusOr<std::vector<int64_t>> ParseShape(const json& value) {
  if (!value.is_array()) {
    return Invalid("\"shape\" must be an array of integers, got ",
                   value.type_name());
  }
  std::vector<int64_t> shape;
  shape.reserve(value.size());
  for (const json& dim : value) {
    if (dim.is_number_unsigned()) {
      const uint64_t d = dim.get<uint64_t>();
      if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Invalid("shape dimension ", d, " overflows int64");
      }
      shape.push_back(static_cast<int64_t>(d));
    } else if (dim.is_number_integer()) {
      return Invalid("shape has a negative dimension ", dim.get<int64_t>());
    } else {
      return Invalid("\"shape\" must be an array of integers, found a ",
                     dim.type_name());
    }
  }
  return shape;
}

// A short description of a JSON value for messages: numbers as written,
// small arrays element by element (numbers as written, others by type),
// anything else by type.
std::string Describe(const json& value) {
  if (value.is_number()) return value.dump();
  if (!value.is_array()) return value.type_name();
  if (value.size() > 4) {
    return absl::StrCat("an array of ", value.size(), " elements");
  }
  std::vector<std::string> parts;
  for (const json& element : value) {
    parts.push_back(element.is_number() ? element.dump()
                                        : std::string(element.type_name()));
  }
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> ParseOffsets(const json& value) {
  if (!value.is_array() || value.size() != 2 ||
      !value[0].is_number_unsigned() || !value[1].is_number_unsigned()) {
    return Invalid("\"data_offsets\" must be two non-negative integers, got ",
                   Describe(value));
  }
  const uint64_t begin = value[0].get<uint64_t>();
  const uint64_t end = value[1].get<uint64_t>();
  if (begin > end) {
    return Invalid("data_offsets [", begin, ", ", end, "] begin > end");
  }
  return std::make_pair(begin, end);
}

const json* FindField(const json& entry, const char* field) {
  auto it = entry.find(field);
  return it == entry.end() ? nullptr : &*it;
}

absl::StatusOr<TensorInfo> ParseTensorFields(const json& entry,
                                             uint64_t buffer_size) {
  if (!entry.is_object()) {
    return Invalid("entry must be an object, got ", entry.type_name());
  }
  const json* dtype = FindField(entry, "dtype");
  const json* shape = FindField(entry, "shape");
  const json* offsets = FindField(entry, "data_offsets");
  if (dtype == nullptr) return Invalid("missing field \"dtype\"");
  if (shape == nullptr) return Invalid("missing field \"shape\"");
  if (offsets == nullptr) return Invalid("missing field \"data_offsets\"");
  if (!dtype->is_string()) {
    return Invalid("\"dtype\" must be a string, got ", dtype->type_name());
  }
  TensorInfo info;
  ASSIGN_OR_RETURN(info.dtype,
                   ParseDType(dtype->get_ref<const std::string&>()));
  ASSIGN_OR_RETURN(info.shape, ParseShape(*shape));
  ASSIGN_OR_RETURN(auto range, ParseOffsets(*offsets));
  info.begin = range.first;
  info.end = range.second;
  if (info.end > buffer_size) {
    return absl::DataLossError(
        absl::StrCat("data_offsets [", info.begin, ", ", info.end,
                     "] end beyond the data buffer of ", buffer_size,
                     " bytes (truncated file?)"));
  }
  ASSIGN_OR_RETURN(const uint64_t nbytes,
                   CheckedByteSize(info.shape, info.dtype));
  if (info.end - info.begin != nbytes) {
    return Invalid("data_offsets [", info.begin, ", ", info.end, "] span ",
                   info.end - info.begin, " bytes but shape ",
                   ShapeToString(info.shape), " of ", DTypeName(info.dtype),
                   " needs ", nbytes);
  }
  return info;
}

// Same code, message prefixed with the tensor's name.
absl::Status InTensor(absl::string_view name, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("tensor ", Quote(name), ": ",
                                                  status.message()));
}

// Every byte of the buffer belongs to exactly one tensor.
absl::Status CheckCoverage(const Header& header, uint64_t buffer_size) {
  std::vector<std::pair<const std::string*, const TensorInfo*>> order;
  order.reserve(header.tensors.size());
  for (const auto& [name, info] : header.tensors) {
    order.emplace_back(&name, &info);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.second->begin, a.second->end) <
           std::make_pair(b.second->begin, b.second->end);
  });
  uint64_t covered = 0;
  const std::pair<const std::string*, const TensorInfo*>* previous = nullptr;
  for (const auto& entry : order) {
    const TensorInfo& info = *entry.second;
    if (info.begin < covered && previous != nullptr) {
      return Invalid("tensor ", Quote(*entry.first), " data_offsets [",
                     info.begin, ", ", info.end, "] overlap tensor ",
                     Quote(*previous->first), " [", previous->second->begin,
                     ", ", previous->second->end, "]");
    }
    if (info.begin > covered) {
      return Invalid("data buffer bytes [", covered, ", ", info.begin,
                     ") are not covered by any tensor (holes are not allowed)");
    }
    covered = info.end;
    previous = &entry;
  }
  if (covered != buffer_size) {
    return Invalid("data buffer bytes [", covered, ", ", buffer_size,
                   ") at its end are not covered by any tensor (holes are "
                   "not allowed)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Header> ParseHeader(absl::string_view text,
                                   uint64_t buffer_size) {
  size_t bad_byte = 0;
  if (!IsValidUtf8(text, &bad_byte)) {
    return Invalid("header is not valid UTF-8 (bad byte at offset ", bad_byte,
                   ")");
  }
  RETURN_IF_ERROR(CheckNesting(text));
  ASSIGN_OR_RETURN(const json root, ParseJson(text));
  if (!root.is_object()) {
    return Invalid("header is not a JSON object but a ", root.type_name());
  }
  Header header;
  for (const auto& [name, value] : root.items()) {
    if (name == kMetadataKey) {
      ASSIGN_OR_RETURN(header.metadata, ParseMetadata(value));
      continue;
    }
    absl::StatusOr<TensorInfo> info = ParseTensorFields(value, buffer_size);
    if (!info.ok()) return InTensor(name, info.status());
    header.tensors.emplace(name, *std::move(info));
  }
  RETURN_IF_ERROR(CheckCoverage(header, buffer_size));
  return header;
}

}  // namespace ptune::safetensors::internal

#include "server/safetensors/safetensors_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/safetensors/util.h"

namespace ptune::safetensors {
namespace {

using ::nlohmann::ordered_json;

// Position in the reference implementation's Dtype enum, which is ordered by
// alignment; the reference lays tensors out by decreasing position.
int ReferenceRank(DType dtype) {
  switch (dtype) {
    case DType::kBool:
      return 0;
    case DType::kU8:
      return 1;
    case DType::kI8:
      return 2;
    case DType::kI16:
      return 3;
    case DType::kF16:
      return 4;
    case DType::kBF16:
      return 5;
    case DType::kI32:
      return 6;
    case DType::kF32:
      return 7;
    case DType::kF64:
      return 8;
    case DType::kI64:
      return 9;
  }
  return -1;
}

std::string LittleEndianU64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  }
  return out;
}

absl::Status ErrnoStatus(int error, absl::string_view what,
                         absl::string_view path) {
  return absl::ErrnoToStatus(error, absl::StrCat(what, " '", path, "'"));
}

absl::Status WriteAll(int fd, absl::string_view bytes,
                      const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot write", path);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status FsyncDirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open directory", dir);
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(error, "cannot fsync directory", dir);
  return absl::OkStatus();
}

}  // namespace

absl::Status SafetensorsWriter::Add(std::string name, DType dtype,
                                    std::vector<int64_t> shape,
                                    absl::string_view bytes) {
  if (name == "__metadata__") {
    return absl::InvalidArgumentError(
        "the tensor name \"__metadata__\" is reserved");
  }
  if (!internal::IsValidUtf8(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor name ", internal::Quote(name), " is not valid UTF-8"));
  }
  if (tensors_.count(name) != 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("duplicate tensor name ", internal::Quote(name)));
  }
  absl::StatusOr<uint64_t> nbytes = internal::CheckedByteSize(shape, dtype);
  if (!nbytes.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor ", internal::Quote(name), ": ", nbytes.status().message()));
  }
  if (bytes.size() != *nbytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor ", internal::Quote(name), ": got ", bytes.size(),
                     " bytes but shape ", internal::ShapeToString(shape),
                     " of ", DTypeName(dtype), " needs ", *nbytes));
  }
  tensors_.emplace(std::move(name),
                   Entry{dtype, std::move(shape), std::string(bytes)});
  return absl::OkStatus();
}

void SafetensorsWriter::SetMetadata(std::string key, std::string value) {
  metadata_[internal::ToValidUtf8(key)] = internal::ToValidUtf8(value);
}

std::vector<std::pair<const std::string*, const SafetensorsWriter::Entry*>>
SafetensorsWriter::Layout(std::string* header) const {
  std::vector<std::pair<const std::string*, const Entry*>> order;
  order.reserve(tensors_.size());
  for (const auto& [name, entry] : tensors_) order.emplace_back(&name, &entry);
  std::stable_sort(
      order.begin(), order.end(), [](const auto& a, const auto& b) {
        return ReferenceRank(a.second->dtype) > ReferenceRank(b.second->dtype);
      });  // Stable: names stay sorted within a rank.

  ordered_json json = ordered_json::object();
  if (!metadata_.empty()) {
    ordered_json metadata = ordered_json::object();
    for (const auto& [key, value] : metadata_) metadata[key] = value;
    json["__metadata__"] = std::move(metadata);
  }
  uint64_t offset = 0;
  for (const auto& [name, entry] : order) {
    ordered_json info = ordered_json::object();
    info["dtype"] = std::string(DTypeName(entry->dtype));
    info["shape"] = entry->shape;
    info["data_offsets"] = {offset, offset + entry->bytes.size()};
    offset += entry->bytes.size();
    json[*name] = std::move(info);
  }
  // All strings are valid UTF-8 (Add and SetMetadata), so `replace` never
  // fires; it only guarantees dump() cannot throw.
  *header = json.dump(-1, ' ', /*ensure_ascii=*/false,
                      ordered_json::error_handler_t::replace);
  header->append((8 - header->size() % 8) % 8, ' ');
  return order;
}

std::string SafetensorsWriter::Serialize() const {
  std::string header;
  const auto order = Layout(&header);
  std::string out = LittleEndianU64(header.size());
  out += header;
  for (const auto& [name, entry] : order) out += entry->bytes;
  return out;
}

absl::Status SafetensorsWriter::WriteFile(const std::string& path) const {
  std::string header;
  const auto order = Layout(&header);
  const std::string tmp = path + ".tmp";
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "cannot create", tmp);
  absl::Status status = WriteAll(fd, LittleEndianU64(header.size()), tmp);
  if (status.ok()) status = WriteAll(fd, header, tmp);
  for (const auto& [name, entry] : order) {
    if (!status.ok()) break;
    status = WriteAll(fd, entry->bytes, tmp);
  }
  if (status.ok() && ::fsync(fd) != 0) {
    status = ErrnoStatus(errno, "cannot fsync", tmp);
  }
  if (::close(fd) != 0 && status.ok()) {
    status = ErrnoStatus(errno, "cannot close", tmp);
  }
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status =
        ErrnoStatus(errno, absl::StrCat("cannot rename '", tmp, "' to"), path);
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());
    return status;
  }
  return FsyncDirectoryOf(path);
}

}  // namespace ptune::safetensors

#include "server/safetensors/safetensors_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/safetensors/util.h"

namespace ptune::safetensors {
namespace {

// The reference implementation's limit on the header size.
constexpr uint64_t kMaxHeaderSize = 100'000'000;

uint64_t ReadLittleEndianU64(const uint8_t* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

absl::Status ErrnoStatus(int error, absl::string_view what,
                         absl::string_view path) {
  return absl::ErrnoToStatus(error, absl::StrCat(what, " '", path, "'"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(
    const std::string& path) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->source_name_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open safetensors file", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    return ErrnoStatus(error, "cannot stat safetensors file", path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("safetensors file '", path, "' is not a regular file"));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size > 0) {
    void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      return ErrnoStatus(error, "cannot mmap safetensors file", path);
    }
    file->mapping_ = mapping;
    file->mapping_size_ = size;
  }
  ::close(fd);  // The mapping keeps the file alive.
  RETURN_IF_ERROR(
      file->Init(static_cast<const uint8_t*>(file->mapping_), size));
  return file;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::FromBuffer(
    std::string bytes, std::string source_name) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->source_name_ = std::move(source_name);
  file->owned_bytes_ = std::move(bytes);
  RETURN_IF_ERROR(
      file->Init(reinterpret_cast<const uint8_t*>(file->owned_bytes_.data()),
                 file->owned_bytes_.size()));
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

absl::Status SafetensorsFile::Init(const uint8_t* bytes, size_t size) {
  auto fail = [this](absl::StatusCode code, absl::string_view message) {
    return absl::Status(
        code, absl::StrCat("safetensors file '", source_name_, "': ", message));
  };
  if (size < 8) {
    return fail(absl::StatusCode::kDataLoss,
                absl::StrCat("file is ", size,
                             " bytes, shorter than the 8-byte header size"));
  }
  const uint64_t header_size = ReadLittleEndianU64(bytes);
  if (header_size > kMaxHeaderSize) {
    return fail(
        absl::StatusCode::kInvalidArgument,
        absl::StrCat("header size ", header_size, " exceeds the limit of ",
                     kMaxHeaderSize, " bytes"));
  }
  if (header_size > size - 8) {
    return fail(
        absl::StatusCode::kDataLoss,
        absl::StrCat("header size ", header_size, " exceeds the ", size - 8,
                     " bytes after the size field (truncated file?)"));
  }
  const absl::string_view header_text(reinterpret_cast<const char*>(bytes + 8),
                                      header_size);
  const uint64_t buffer_size = size - 8 - header_size;
  absl::StatusOr<internal::Header> header =
      internal::ParseHeader(header_text, buffer_size);
  if (!header.ok()) {
    return fail(header.status().code(), header.status().message());
  }
  header_ = *std::move(header);
  data_ = bytes + 8 + header_size;
  return absl::OkStatus();
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> names;
  names.reserve(header_.tensors.size());
  for (const auto& [name, info] : header_.tensors) names.push_back(name);
  return names;
}

bool SafetensorsFile::Contains(absl::string_view name) const {
  return header_.tensors.find(name) != header_.tensors.end();
}

absl::StatusOr<TensorView> SafetensorsFile::Get(absl::string_view name) const {
  auto it = header_.tensors.find(name);
  if (it == header_.tensors.end()) {
    return absl::NotFoundError(absl::StrCat("tensor ", internal::Quote(name),
                                            " not found in safetensors file '",
                                            source_name_, "'"));
  }
  const internal::TensorInfo& info = it->second;
  TensorView view;
  view.dtype = info.dtype;
  view.shape = info.shape;
  view.data = data_ + info.begin;
  view.nbytes = static_cast<size_t>(info.end - info.begin);
  return view;
}

}  // namespace ptune::safetensors

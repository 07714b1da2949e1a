// Reading safetensors files (https://github.com/huggingface/safetensors).
#ifndef PTUNE_SERVER_SAFETENSORS_SAFETENSORS_FILE_H_
#define PTUNE_SERVER_SAFETENSORS_SAFETENSORS_FILE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/safetensors/header_parser.h"
#include "server/safetensors/tensor_view.h"

namespace ptune::safetensors {

// A read-only, fully validated safetensors file, for loading model weights
// from untrusted files. Create fails with a status naming the file and the
// problem on a truncated or malformed file: INVALID_ARGUMENT for a malformed
// header, DATA_LOSS for a file shorter than its header or data claim;
// validation never reads outside the bytes.
//
// Ownership: owns its bytes, either a read-only private mmap of the file
// (Open) or a std::string (FromBuffer). TensorView pointers stay valid for
// the lifetime of this object. A mapped file must not be truncated or
// rewritten in place while open (SafetensorsWriter::WriteFile replaces files
// by rename, which is safe).
//
// Thread-safety: immutable after creation; all const methods may be called
// concurrently.
class SafetensorsFile {
 public:
  // Maps the file at `path`. NOT_FOUND / PERMISSION_DENIED etc. if it cannot
  // be opened, otherwise the validation errors above.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(
      const std::string& path);
  // Takes the whole file's bytes; `source_name` names it in messages.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> FromBuffer(
      std::string bytes, std::string source_name);

  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  // The "__metadata__" map; empty if the file has none.
  const std::map<std::string, std::string>& metadata() const {
    return header_.metadata;
  }
  // Tensor names, sorted.
  std::vector<std::string> names() const;
  bool Contains(absl::string_view name) const;
  // NOT_FOUND naming the tensor and the file if there is no such tensor.
  absl::StatusOr<TensorView> Get(absl::string_view name) const;
  // The path, or FromBuffer's source name.
  const std::string& source_name() const { return source_name_; }

 private:
  SafetensorsFile() = default;

  // Validates `bytes` (the whole file) and fills header_ and data_.
  absl::Status Init(const uint8_t* bytes, size_t size);

  std::string source_name_;
  std::string owned_bytes_;  // FromBuffer.
  void* mapping_ = nullptr;  // Open: the mmap'ed file, or null.
  size_t mapping_size_ = 0;
  const uint8_t* data_ = nullptr;  // Start of the data buffer.
  internal::Header header_;
};

}  // namespace ptune::safetensors

#endif  // PTUNE_SERVER_SAFETENSORS_SAFETENSORS_FILE_H_

// Writing safetensors files (https://github.com/huggingface/safetensors).
#ifndef PTUNE_SERVER_SAFETENSORS_SAFETENSORS_WRITER_H_
#define PTUNE_SERVER_SAFETENSORS_SAFETENSORS_WRITER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/safetensors/dtype.h"

namespace ptune::safetensors {

// Builds a safetensors file from tensors given as raw little-endian,
// row-major bytes, e.g. to save trained prompt embeddings.
//
// The layout is the reference implementation's (safetensors::serialize), so
// that the same tensors and metadata give the same bytes as Python's
// safetensors.numpy.save: tensors in order of decreasing dtype alignment
// (I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL; the reference's order
// for equal sizes), then by name; the JSON header compact with
// "__metadata__" first (its keys sorted; the reference uses hash order,
// which only matches for one key) and each entry as {"dtype", "shape",
// "data_offsets"}; the header padded with spaces to a multiple of 8 bytes,
// so every tensor is aligned to its element size within the file.
//
// Ownership: copies the bytes given to Add. Thread-safety: not thread-safe;
// const methods may run concurrently with each other.
class SafetensorsWriter {
 public:
  // INVALID_ARGUMENT if `bytes` is not numel(shape) * DTypeSize(dtype) bytes
  // (checked arithmetic), a dimension is negative, `name` is not UTF-8 or is
  // "__metadata__"; ALREADY_EXISTS if a tensor `name` was added before.
  absl::Status Add(std::string name, DType dtype, std::vector<int64_t> shape,
                   absl::string_view bytes);
  // Sets (or replaces) a "__metadata__" entry. Bytes that are not valid UTF-8
  // are written as U+FFFD.
  void SetMetadata(std::string key, std::string value);

  // The whole file. Deterministic: depends only on the tensors and metadata.
  std::string Serialize() const;
  // Writes Serialize() atomically: to `path`.tmp, fsync, rename over `path`,
  // fsync the directory. On failure `path` is untouched and the temporary
  // file removed.
  absl::Status WriteFile(const std::string& path) const;

 private:
  struct Entry {
    DType dtype;
    std::vector<int64_t> shape;
    std::string bytes;
  };
  // The tensors in file order, and the padded JSON header for that order.
  std::vector<std::pair<const std::string*, const Entry*>> Layout(
      std::string* header) const;

  std::map<std::string, Entry> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace ptune::safetensors

#endif  // PTUNE_SERVER_SAFETENSORS_SAFETENSORS_WRITER_H_

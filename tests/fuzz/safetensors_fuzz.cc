// SafetensorsFile::FromBuffer on arbitrary bytes: refuse with a status, or
// return a file whose every tensor lies inside the buffer with the size its
// dtype and shape imply.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/safetensors/safetensors.h"
#include "tests/fuzz/fuzz_env.h"

using ::ptune::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  bytes.reserve(64);  // heap storage, kept by the move below
  const auto* base = reinterpret_cast<const uint8_t*>(bytes.data());
  auto file = ptune::safetensors::SafetensorsFile::FromBuffer(std::move(bytes), "fuzz");
  if (!file.ok()) {
    Check(!file.status().message().empty(), "a refusal says why");
    return 0;
  }
  for (const std::string& name : (*file)->names()) {
    auto view = (*file)->Get(name);
    Check(view.ok(), "every listed tensor can be read");
    Check(view->numel() >= 0, "numel >= 0");
    Check(view->nbytes == static_cast<uint64_t>(view->numel()) *
                              ptune::safetensors::DTypeSize(view->dtype),
          "nbytes = numel x dtype size");
    if (view->nbytes > 0) {
      Check(view->data >= base + 8 && view->data + view->nbytes <= base + size,
            "tensor data inside the buffer");
    }
  }
  return 0;
}

// ImportPeftAdapter on arbitrary adapter folders: the input is split into
// adapter_config.json, ptune_export.json (optional) and
// adapter_model.safetensors; the importer must refuse with a status or
// return a model whose tensors are finite and whose label set is valid.
//
// Input layout: 2 bytes (little endian) config length, 2 bytes export
// length (0 = no ptune_export.json), the config, the export, the rest is the
// safetensors file.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "server/backbone/backbone.h"
#include "server/common/files.h"
#include "server/datasets/label_set.h"
#include "server/prompts/peft_format.h"
#include "tests/fuzz/fuzz_env.h"

using ::ptune::fuzz::Check;

namespace {

void Write(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ptune::backbone::Backbone* backbone = [] {
    auto made = ptune::backbone::Backbone::Create(
        {.dir = ptune::fuzz::BackboneDirOrDie(), .device = "cpu"});
    Check(made.ok(), "the backbone loads");
    return made->release();
  }();
  // The adapter folder the inputs are written to: one per process, removed
  // at exit (libFuzzer ends with exit() after -runs or -max_total_time).
  static const ptune::common::ScratchDir adapter_dir = [] {
    auto created = ptune::common::ScratchDir::Create("ptune-peft-fuzz");
    Check(created.ok(), "the adapter folder is created");
    return std::move(*created);
  }();
  const std::string& dir = adapter_dir.path();
  if (size < 4) return 0;
  const size_t config_size = std::min<size_t>(data[0] | (data[1] << 8), size - 4);
  const size_t export_size =
      std::min<size_t>(data[2] | (data[3] << 8), size - 4 - config_size);
  const uint8_t* config = data + 4;
  const uint8_t* sidecar = config + config_size;
  const uint8_t* tensors = sidecar + export_size;
  Write(dir + "/adapter_config.json", config, config_size);
  std::filesystem::remove(dir + "/ptune_export.json");
  if (export_size > 0) Write(dir + "/ptune_export.json", sidecar, export_size);
  Write(dir + "/adapter_model.safetensors", tensors, data + size - tensors);

  auto model = ptune::prompts::ImportPeftAdapter(*backbone, dir, {});
  if (!model.ok()) {
    Check(!model.status().message().empty(), "a refusal says why");
    return 0;
  }
  Check((*model)->CheckFinite().ok(), "an imported model is finite");
  Check(!(*model)->labels().empty(), "an imported model has labels");
  return 0;
}

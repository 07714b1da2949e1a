// The safetensors module: a hardened reader (SafetensorsFile) and a writer
// (SafetensorsWriter) for the safetensors tensor file format, without
// LibTorch. Include this header to use the module.
#ifndef PTUNE_SERVER_SAFETENSORS_SAFETENSORS_H_
#define PTUNE_SERVER_SAFETENSORS_SAFETENSORS_H_

#include "server/safetensors/dtype.h"               // IWYU pragma: export
#include "server/safetensors/safetensors_file.h"    // IWYU pragma: export
#include "server/safetensors/safetensors_writer.h"  // IWYU pragma: export
#include "server/safetensors/tensor_view.h"         // IWYU pragma: export

#endif  // PTUNE_SERVER_SAFETENSORS_SAFETENSORS_H_

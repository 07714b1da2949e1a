// Flags shared by the ptune-inspect sub-commands.
#ifndef PTUNE_SERVER_INSPECT_FLAGS_H_
#define PTUNE_SERVER_INSPECT_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"

ABSL_DECLARE_FLAG(std::string, backbone);
ABSL_DECLARE_FLAG(std::string, device);
ABSL_DECLARE_FLAG(std::string, dtype);
ABSL_DECLARE_FLAG(std::string, attention);
ABSL_DECLARE_FLAG(int, threads);
ABSL_DECLARE_FLAG(std::string, pooling);
ABSL_DECLARE_FLAG(int, batch);
ABSL_DECLARE_FLAG(int, seq);
ABSL_DECLARE_FLAG(std::string, prompt);
ABSL_DECLARE_FLAG(double, seconds);
ABSL_DECLARE_FLAG(int, max_tokens);
ABSL_DECLARE_FLAG(std::string, profile);
ABSL_DECLARE_FLAG(std::string, data);
ABSL_DECLARE_FLAG(std::string, out);

#endif  // PTUNE_SERVER_INSPECT_FLAGS_H_

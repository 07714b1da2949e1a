// Sub-commands of ptune-inspect, the developer/operator tool over the
// engine libraries. Each returns a process exit code; errors are printed as
// one line on stderr by main.
#ifndef PTUNE_SERVER_INSPECT_COMMANDS_H_
#define PTUNE_SERVER_INSPECT_COMMANDS_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/backbone/backbone.h"

namespace ptune::inspect {

// Loads the backbone named by --backbone / --device.
absl::StatusOr<std::unique_ptr<backbone::Backbone>> LoadBackboneFromFlags();

// tokenize: UTF-8 lines on stdin -> {"ids":[...],"offsets":[[b,e],...]}.
absl::Status RunTokenize();
// embed: UTF-8 lines on stdin -> {"embedding":[...]} (--pooling).
absl::Status RunEmbed();
// word-states: for each sentence of a tagging file (--data), its BIO tags and
// the frozen backbone's last hidden state at each word's first sub-word
// token (null for a word that kept no token), one JSON line per sentence.
absl::Status RunWordStates();
// bench-forward: encoder throughput next to the GEMM rate of this machine.
absl::Status RunBenchForward();
// bench-serve: the engine under load (mixed prompts, naive baseline,
// padding, latency idle and while training, training modes, GFLOP/s).
absl::Status RunBenchServe();
// train: a prompt from labeled files (optionally searching its length).
absl::Status RunTrain();
// eval: a prompt artifact's metrics on a labeled file.
absl::Status RunEval();
// export-peft / import-peft: a prompt artifact <-> a Hugging Face PEFT adapter.
absl::Status RunExportPeft();
absl::Status RunImportPeft();
// convert-weights: --in safetensors -> --out with floating tensors as --dtype.
absl::Status RunConvertWeights();

}  // namespace ptune::inspect

#endif  // PTUNE_SERVER_INSPECT_COMMANDS_H_

// ptune-inspect: tokenize, embed and benchmark a backbone without a server.
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "server/common/process_tuning.h"
#include "server/platform/blas_kernel.h"
#include "server/inspect/commands.h"
#include "server/inspect/flags.h"

ABSL_FLAG(std::string, backbone, "",
          "Hugging Face model folder (config.json, model.safetensors, "
          "vocab.txt or tokenizer.json).");
ABSL_FLAG(std::string, device, "auto",
          "cpu, cuda, cuda:N or auto (cuda when available).");
ABSL_FLAG(std::string, dtype, "float32",
          "float32, bfloat16 (CPU or CUDA) or float16 (CUDA): the backbone's "
          "serving precision (bench-forward, bench-serve, embed, eval).");
ABSL_FLAG(std::string, attention, "auto",
          "auto (the measured fastest), sdpa (LibTorch 2.x) or matmul: the "
          "attention implementation, to compare them with bench-forward.");
ABSL_FLAG(int, threads, 0,
          "LibTorch intra-op threads; 0 = the measured default (LibTorch 1.x: 1, "
          "OpenBLAS already uses every core per GEMM; 2.x: every core).");
ABSL_FLAG(std::string, pooling, "sentence",
          "embed: cls, mean, or sentence (the sentence-transformers pipeline "
          "of the folder: its truncation, pooling and normalization).");
ABSL_FLAG(int, batch, 32,
          "bench-forward: rows per batch; bench-serve: most rows per batch.");
ABSL_FLAG(int, seq, 64, "bench-forward: text tokens per row.");
ABSL_FLAG(std::string, prompt, "",
          "bench-forward: shallow prompt tokens per row (default 20); eval: "
          "the prompt artifact folder.");
ABSL_FLAG(double, seconds, 5.0,
          "bench-forward: minimum measuring time per figure; bench-serve: of "
          "the GEMM rate. Longer is steadier on a shared machine.");
ABSL_FLAG(std::string, profile, "",
          "bench-forward: write a LibTorch profiler trace (chrome://tracing "
          "JSON) of three forwards to this file.");
ABSL_FLAG(int, max_tokens, 0,
          "Text tokens per row including [CLS]/[SEP]. tokenize: truncate to it (0 = the "
          "model maximum); train: 0 = from the data (95th percentile of the training "
          "texts, at least 128); eval: 0 = as the prompt was trained.");

namespace {

constexpr char kUsage[] = R"(ptune-inspect COMMAND [flags]

Commands:
  tokenize       --backbone DIR                 stdin lines -> {"ids","offsets"}
  embed          --backbone DIR [--pooling P]   stdin lines -> {"embedding"}
  word-states    --backbone DIR --data F.conll  per sentence -> {"tags","states"}: the
                 frozen state at each word's first sub-word (a linear tagger's input)
  bench-forward  --backbone DIR [--batch N --seq N --prompt N --dtype D --attention A]
                 encoder sequences/s and GFLOP/s next to this machine's GEMM rate
  bench-serve    --backbone DIR [--phase_seconds S --clients N --prompts N
                 --batch N --burst N --train_steps N --sentences F,F]
                 the serving engine under load; ends with one JSON line
  train          --backbone DIR --task classify|tag --train F [--valid F] [--test F]
                 --out DIR [--kind --length|--lengths --placement --reparam --init
                 --l2 --dropout --epochs --lr --batch_size ...]
  eval           --backbone DIR --prompt DIR[,DIR...] --data F   (several = ensemble)
  export-peft    --backbone DIR --prompt DIR --out ADAPTER_DIR
  import-peft    --backbone DIR --prompt ADAPTER_DIR [--labels a,b,...] --out DIR
  convert-weights --in F.safetensors --out F.safetensors --dtype bfloat16|float16|float32
                 floating tensors stored in another precision (the loader reads any)
)";

}  // namespace

int main(int argc, char** argv) {
  ptune::platform::SelectBlasKernel(argv);
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = args[1];
  ptune::common::CpuTuning tuning;
  tuning.intra_op_threads = absl::GetFlag(FLAGS_threads);
  ptune::common::ApplyCpuTuning(tuning);

  absl::Status status;
  if (command == "tokenize") {
    status = ptune::inspect::RunTokenize();
  } else if (command == "embed") {
    status = ptune::inspect::RunEmbed();
  } else if (command == "word-states") {
    status = ptune::inspect::RunWordStates();
  } else if (command == "train") {
    status = ptune::inspect::RunTrain();
  } else if (command == "eval") {
    status = ptune::inspect::RunEval();
  } else if (command == "export-peft") {
    status = ptune::inspect::RunExportPeft();
  } else if (command == "import-peft") {
    status = ptune::inspect::RunImportPeft();
  } else if (command == "convert-weights") {
    status = ptune::inspect::RunConvertWeights();
  } else if (command == "bench-forward") {
    status = ptune::inspect::RunBenchForward();
  } else if (command == "bench-serve") {
    status = ptune::inspect::RunBenchServe();
  } else {
    std::cerr << "ptune-inspect: unknown command \"" << command << "\"\n"
              << kUsage;
    return 2;
  }
  if (!status.ok()) {
    std::cerr << "ptune-inspect " << command << ": " << status.message()
              << " [" << absl::StatusCodeToString(status.code()) << "]\n";
    return 1;
  }
  return 0;
}

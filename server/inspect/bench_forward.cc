// bench-forward: encoder throughput at a fixed shape, reported next to the
// fp32 GEMM rate this binary measures on the same machine in the same run
// (absolute times drift on shared machines; the ratio does not).
#include <cstdlib>
#include <iostream>
#include <string>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/version.h>
#include <nlohmann/json.hpp>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "server/common/process_tuning.h"
#include "server/platform/blas_kernel.h"
#include "server/common/status_macros.h"
#include "server/common/torch_call.h"
#include "server/engine/flops.h"
#include "server/inspect/bench_util.h"
#include "server/inspect/commands.h"
#include "server/inspect/flags.h"

namespace ptune::inspect {

absl::Status RunBenchForward() {
  const int64_t batch = absl::GetFlag(FLAGS_batch);
  const int64_t seq = absl::GetFlag(FLAGS_seq);
  int64_t prompt = 20;
  if (const std::string flag = absl::GetFlag(FLAGS_prompt);
      !flag.empty() && !absl::SimpleAtoi(flag, &prompt)) {
    return absl::InvalidArgumentError("--prompt must be a number of tokens");
  }
  const double seconds = absl::GetFlag(FLAGS_seconds);
  if (batch <= 0 || seq < 2 || prompt < 0) {
    return absl::InvalidArgumentError("--batch > 0, --seq >= 2, --prompt >= 0");
  }
  ASSIGN_OR_RETURN(auto model, LoadBackboneFromFlags());
  const auto& c = model->config();
  if (seq + prompt > c.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--seq + --prompt = %d exceeds the backbone's %d positions",
        seq + prompt, c.max_position_embeddings));
  }
  const int64_t s = seq + prompt;
  const int64_t rows = batch * s;
  const double forward_flops = engine::EncoderForwardFlops(c, batch, s);

  double forward_s = 0, train_step_s = 0, gemm_gflops = 0;
  RETURN_IF_ERROR(common::TorchCall("bench-forward", [&]() -> absl::Status {
    c10::InferenceMode guard;
    at::manual_seed(0);
    backbone::EncoderInput in;
    in.input_ids = at::randint(1000, c.vocab_size, {batch, seq}, at::kLong);
    in.input_ids.select(1, 0).fill_(model->tokenizer().cls_id());
    in.input_ids.select(1, seq - 1).fill_(model->tokenizer().sep_id());
    in.input_ids = in.input_ids.to(model->device());
    in.attention_mask = at::ones_like(in.input_ids);
    if (prompt > 0) {
      in.shallow.embeddings =
          at::randn({batch, prompt, c.hidden_size}).to(model->device());
      in.shallow.segments.assign(
          batch, {{.before_token = 0, .source_begin = 0,
                   .length = static_cast<int32_t>(prompt)}});
    }
    absl::Status status;
    forward_s = TimePerCall(seconds, [&] {
      auto out = model->Forward(in);
      if (!out.ok()) {
        status = out.status();
        return;
      }
      // Reading one value waits for the device: on CUDA each call then
      // counts its kernels' time, not only their launch.
      out->TextStates().flatten()[0].item<float>();
    });
    RETURN_IF_ERROR(status);
    if (prompt > 0) {
      // A prompt-tuning step: forward with autograd + backward to the prompt.
      // The backbone is frozen, so no weight gradient is computed and the
      // backward costs about one forward, not two.
      c10::InferenceMode enable_grad(false);
      at::Tensor trainable =
          in.shallow.embeddings.detach().clone().set_requires_grad(true);
      backbone::EncoderInput train_in = in;
      train_in.shallow.embeddings = trainable;
      train_step_s = TimePerCall(seconds, [&] {
        auto out = model->Forward(train_in);
        if (!out.ok()) {
          status = out.status();
          return;
        }
        out->TextStates().select(1, 0).sum().backward();
        trainable.mutable_grad() = at::Tensor();
      });
      RETURN_IF_ERROR(status);
    }
    if (const std::string trace = absl::GetFlag(FLAGS_profile); !trace.empty()) {
      // Three forwards under the LibTorch profiler (chrome://tracing JSON).
      torch::autograd::profiler::RecordProfile profile(trace);
      for (int i = 0; i < 3; ++i) RETURN_IF_ERROR(model->Forward(in).status());
    }
    gemm_gflops = MeasureGemmRate(rows, c.hidden_size, c.intermediate_size,
                                  seconds);
    return absl::OkStatus();
  }));

  const double gflops = forward_flops / forward_s / 1e9;
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::cerr << absl::StrFormat(
      "encoder %s: batch %d x (%d tokens + %d prompt), %.1f ms/batch\n",
      model->name(), batch, seq, prompt, forward_s * 1e3);
  std::cerr << absl::StrFormat(
      "%.1f sequences/s, %.1f GFLOP/s = %.0f%% of the GEMM rate (%.1f GFLOP/s)\n",
      batch / forward_s, gflops, 100.0 * gflops / gemm_gflops, gemm_gflops);
  if (train_step_s > 0) {
    std::cerr << absl::StrFormat(
        "training step (forward + backward to the prompt): %.1f ms = %.2fx the "
        "forward\n", train_step_s * 1e3, train_step_s / forward_s);
  }
  nlohmann::json out;
  out["train_step_ms"] = train_step_s * 1e3;
  out["train_step_over_forward"] = train_step_s / forward_s;
  out["batch"] = batch;
  out["seq"] = seq;
  out["prompt"] = prompt;
  out["ms_per_batch"] = forward_s * 1e3;
  out["seq_per_s"] = batch / forward_s;
  out["gflops"] = gflops;
  out["gemm_gflops"] = gemm_gflops;
  out["ratio"] = gflops / gemm_gflops;
  out["threads"] = at::get_num_threads();
  out["blas"] = platform::ActiveBlasLibrary();
  out["openblas_coretype"] = coretype != nullptr ? coretype : "";
  out["blas_kernel"] = platform::BlasKernelName();
  out["device"] = model->device().str();
  out["dtype"] = std::string(c10::toString(model->dtype()));
  out["attention"] = absl::GetFlag(FLAGS_attention);
  out["libtorch"] = TORCH_VERSION;
  std::cout << out.dump() << std::endl;
  return absl::OkStatus();
}

}  // namespace ptune::inspect

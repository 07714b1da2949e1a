#include "client/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/formatters.h"

namespace ptune::client {
namespace {

bool Ended(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
         state == v1::JOB_STATE_CANCELLED;
}

}  // namespace

std::string FormatProgress(const v1::Job& job) {
  std::string line = JobStateName(job.state());
  if (Ended(job.state())) {
    if (!job.reason().empty()) absl::StrAppend(&line, ": ", job.reason());
    if (!job.metrics().empty()) {
      absl::StrAppend(&line, "  ", FormatMetrics(job.metrics()));
    }
    const auto& m = job.metrics();
    if (m.contains("early_stopped") && m.at("early_stopped") == 1 && m.contains("epochs")) {
      absl::StrAppend(
          &line, absl::StrFormat("\nstopped early after epoch %.0f of %d: the validation metric "
                                 "did not improve for --patience epochs; kept epoch %.0f",
                                 m.at("epochs"), job.progress().epochs(),
                                 m.contains("best_epoch") ? m.at("best_epoch") : 0.0));
    }
    return line;
  }
  const v1::JobProgress& p = job.progress();
  if (job.state() != v1::JOB_STATE_RUNNING || p.total_steps() == 0) {
    return line;
  }
  absl::StrAppend(&line, "  epoch ", p.epoch(), "/", p.epochs(), "  step ",
                  p.step(), "/", p.total_steps(),
                  absl::StrFormat("  loss %.4f", p.train_loss()));
  if (p.valid_metric() > 0) {
    absl::StrAppend(&line, absl::StrFormat("  valid %.4f", p.valid_metric()));
  }
  if (p.examples_per_second() > 0) {
    absl::StrAppend(&line,
                    absl::StrFormat("  %.1f ex/s", p.examples_per_second()));
  }
  absl::StrAppend(&line, "  ETA ", FormatSeconds(p.eta_seconds()));
  return line;
}

std::string ProgressBar(const v1::Job& job, int width) {
  const v1::JobProgress& p = job.progress();
  if (p.total_steps() <= 0) return "";
  // A job that succeeded is done, also when it stopped early.
  const double fraction =
      job.state() == v1::JOB_STATE_SUCCEEDED
          ? 1.0
          : std::clamp(static_cast<double>(p.step()) / static_cast<double>(p.total_steps()),
                       0.0, 1.0);
  const int filled = static_cast<int>(fraction * width);
  return absl::StrFormat("[%s%s] %3d%%", std::string(filled, '#'),
                         std::string(width - filled, '-'),
                         static_cast<int>(fraction * 100));
}

void ProgressPrinter::Update(const v1::Job& job) {
  std::string line = FormatProgress(job);
  if (line == last_line_) return;
  last_line_ = line;
  if (!terminal_) {
    *out_ << line << "\n" << std::flush;
    return;
  }
  const std::string bar = ProgressBar(job);
  // \r back to column 0, ESC[K clears what a longer previous line left.
  *out_ << "\r\x1b[K" << (bar.empty() ? "" : bar + "  ") << line << std::flush;
  line_open_ = true;
}

void ProgressPrinter::Finish() {
  if (line_open_) *out_ << "\n" << std::flush;
  line_open_ = false;
}

}  // namespace ptune::client

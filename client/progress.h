// Live job progress for `ptune train --wait` and `ptune jobs watch`: on a
// terminal one line with a bar rewritten in place ("\r"), otherwise one plain
// line per change, for logs. Not thread-safe (one watcher per printer); does
// not own the stream.
#ifndef PTUNE_CLIENT_PROGRESS_H_
#define PTUNE_CLIENT_PROGRESS_H_

#include <ostream>
#include <string>

#include "ptune/v1/ptune.pb.h"

namespace ptune::client {

// "running  epoch 2/5  step 120/300  loss 0.4123  valid 0.8712  ETA 1m23s";
// a queued job is "queued", an ended one its state, reason and metrics.
std::string FormatProgress(const v1::Job& job);

// "[#########-----------]  45%" from step / total_steps; empty when the total
// is unknown.
std::string ProgressBar(const v1::Job& job, int width = 20);

class ProgressPrinter {
 public:
  ProgressPrinter(std::ostream* out, bool terminal)
      : out_(out), terminal_(terminal) {}

  // Shows `job`'s state.
  void Update(const v1::Job& job);
  // Ends the live line (terminal) so that later output starts on a new line.
  void Finish();

 private:
  std::ostream* out_;
  const bool terminal_;
  std::string last_line_;
  bool line_open_ = false;
};

}  // namespace ptune::client

#endif  // PTUNE_CLIENT_PROGRESS_H_

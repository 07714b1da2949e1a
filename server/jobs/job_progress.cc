#include "server/jobs/job_progress.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ptune::jobs {

std::string JobProgress::ToJson() const {
  nlohmann::json j = {{"epoch", epoch},
                      {"epochs", epochs},
                      {"step", step},
                      {"total_steps", total_steps},
                      {"train_loss", train_loss},
                      {"valid_metric", valid_metric},
                      {"eta_seconds", eta_seconds},
                      {"examples_per_second", examples_per_second}};
  return j.dump();
}

namespace {

template <typename T>
bool Read(const nlohmann::json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_number()) return false;
  *out = it->get<T>();
  return true;
}

}  // namespace

absl::StatusOr<JobProgress> JobProgress::FromJson(const std::string& json) {
  JobProgress p;
  if (json.empty()) return p;
  const nlohmann::json j =
      nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("job progress is not a JSON object: ", json));
  }
  if (!Read(j, "epoch", &p.epoch) || !Read(j, "epochs", &p.epochs) ||
      !Read(j, "step", &p.step) || !Read(j, "total_steps", &p.total_steps) ||
      !Read(j, "train_loss", &p.train_loss) ||
      !Read(j, "valid_metric", &p.valid_metric) ||
      !Read(j, "eta_seconds", &p.eta_seconds) ||
      !Read(j, "examples_per_second", &p.examples_per_second)) {
    return absl::InvalidArgumentError(
        absl::StrCat("job progress has a non-numeric field: ", json));
  }
  return p;
}

}  // namespace ptune::jobs

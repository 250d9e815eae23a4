#include "lib/pipeline/pass.h"

#include <unistd.h>

#include <cstdio>

#include "lib/support/error.h"
#include "lib/support/progress.h"

namespace slmc {

PassContext::PassContext() = default;
PassContext::~PassContext() = default;

void PassContext::setCalibration(std::function<CalibrationSamples()> load, std::string description) {
  load_calibration_ = std::move(load);
  calibration_description_ = std::move(description);
  calibration_.reset();
}

const CalibrationSamples& PassContext::calibrationIf(bool needed) {
  static const CalibrationSamples none;
  return needed ? calibration() : none;
}

const CalibrationSamples& PassContext::calibration() {
  require(hasCalibration(), "pass needs calibration data: pass --data FILE");
  if (!calibration_) {
    CalibrationSamples samples = load_calibration_();
    require(samples.num_samples > 0 && samples.seq_len > 0 &&
                static_cast<int64_t>(samples.ids.size()) == samples.num_samples * samples.seq_len,
            "calibration data " + calibration_description_ + " holds " + std::to_string(samples.ids.size()) +
                " ids for " + std::to_string(samples.num_samples) + " samples of " + std::to_string(samples.seq_len) +
                " tokens (rebuild it with `slmc dataset build`)");
    calibration_ = std::move(samples);
  }
  return *calibration_;
}

void PassContext::progress(const std::string& label, int64_t done, int64_t total, const std::string& note) {
  if (!progress_ || label != progress_label_) {
    progress_.reset();  // ends the previous label's line
    progress_ = std::make_unique<Progress>(label, quiet);
    progress_label_ = label;
  }
  progress_->update(done, total, note);
  if (done >= total) {
    progress_.reset();
    progress_label_.clear();
  }
}

void PassContext::log(const std::string& message) {
  if (quiet) return;
  // A progress line may be drawn without a newline: clear it so the message starts a clean
  // line; the next progress update draws it again below.
  if (progress_ && ::isatty(STDERR_FILENO)) std::fputs("\r\033[K", stderr);
  std::fprintf(stderr, "%s\n", message.c_str());
}

void PassContext::warn(const std::string& message) {
  warnings.push_back(message);
  log("warning: " + message);
}

Pass::Pass(std::string argument, std::string description)
    : PassOptions(std::move(argument)), description_(std::move(description)) {}

}  // namespace slmc

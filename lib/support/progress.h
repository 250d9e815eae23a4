// A one-line progress indicator on stderr, redrawn in place. Silent when stderr is not a
// terminal (CI logs, pipes) or when the user asked for --quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace slmc {

class Progress {
 public:
  Progress(std::string label, bool quiet);
  ~Progress();
  // `note` is printed after the counts and times ("loss 2.31").
  void update(int64_t done, int64_t total, const std::string& note = "");

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace slmc

#include "lib/support/progress.h"

#include <unistd.h>

#include <cstdio>

namespace slmc {

Progress::Progress(std::string label, bool quiet)
    : label_(std::move(label)), enabled_(!quiet && ::isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

Progress::~Progress() {
  if (drawn_) std::fputc('\n', stderr);
}

void Progress::update(int64_t done, int64_t total, const std::string& note) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_ < std::chrono::milliseconds(100)) return;  // redraw at most 10/s
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta = done > 0 ? elapsed * static_cast<double>(total - done) / static_cast<double>(done) : 0;
  std::fprintf(stderr, "\r%s %lld/%lld (%3.0f%%) %.1fs elapsed, ~%.1fs left %s\033[K", label_.c_str(),
               static_cast<long long>(done), static_cast<long long>(total),
               total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0, elapsed, eta,
               note.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace slmc

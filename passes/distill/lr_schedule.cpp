#include "passes/distill/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace slmc {

double warmupCosineLr(int64_t step, int64_t total, int64_t warmup, double lr, double final_fraction) {
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const int64_t decay_steps = std::max<int64_t>(1, total - warmup - 1);
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(decay_steps));
  const double floor = lr * final_fraction;
  return floor + 0.5 * (lr - floor) * (1.0 + std::cos(M_PI * progress));
}

}  // namespace slmc

// The learning rate of optimizer step `step` (0-based) of `total`: linear warmup from lr/warmup
// to lr over the first `warmup` steps, then a half cosine from lr down to lr · final_fraction at
// the last step (the schedule of GPT-3, Chinchilla and torchtune's distillation recipes).
#pragma once

#include <cstdint>

namespace slmc {

double warmupCosineLr(int64_t step, int64_t total, int64_t warmup, double lr, double final_fraction);

}  // namespace slmc

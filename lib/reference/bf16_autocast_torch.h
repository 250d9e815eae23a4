// LibTorch's CPU autocast to bfloat16 for a scope: matrix products (linear, matmul, bmm) run in
// bfloat16 with float32 accumulation (oneDNN: AMX / AVX512-BF16 where the CPU has them, 3.6-5.5×
// the float32 rate on SmolLM2's shapes), softmax and norms in float32. Used by the passes that trade
// the last bits of precision of a forward for speed: distillation's forward passes and the
// layer-wise calibration / sensitivity passes of quantization and pruning. A LibTorch header:
// include it from *_torch.cpp files only.
#pragma once

#include <ATen/autocast_mode.h>

namespace slmc {

// Autocast to bfloat16 while alive (when `on`); the previous state restored and the weight cache
// (bf16 copies of leaf weights, keyed by address) cleared after.
class BfloatAutocast {
 public:
  explicit BfloatAutocast(bool on) : on_(on) {
    if (!on_) return;
    was_enabled_ = at::autocast::is_cpu_enabled();
    was_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  ~BfloatAutocast() {
    if (!on_) return;
    at::autocast::set_cpu_enabled(was_enabled_);
    at::autocast::set_autocast_cpu_dtype(was_dtype_);
    at::autocast::clear_cache();
  }
  BfloatAutocast(const BfloatAutocast&) = delete;
  BfloatAutocast& operator=(const BfloatAutocast&) = delete;

 private:
  bool on_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kBFloat16;
};

}  // namespace slmc

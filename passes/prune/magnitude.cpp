#include "passes/prune/magnitude.h"

#include <cmath>

#include "lib/support/error.h"

namespace slmc {

std::vector<uint8_t> magnitudeMask(const float* w, int64_t rows, int64_t cols, const SparsityTarget& target,
                                   MaskScope scope) {
  require(w != nullptr && rows > 0 && cols > 0,
          "magnitude pruning: empty weight [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  checkTarget(target, cols, "magnitude pruning");
  std::vector<float> score(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < score.size(); ++i) {
    require(std::isfinite(w[i]), "magnitude pruning: the weight has a NaN or infinite value (check the checkpoint)");
    score[i] = std::fabs(w[i]);
  }
  return selectMask(score.data(), rows, cols, target, scope);
}

}  // namespace slmc

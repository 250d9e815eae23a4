#include "passes/prune/wanda.h"

#include <algorithm>
#include <cmath>

#include "lib/support/error.h"

namespace slmc {

std::vector<float> inputNorms(const SiteStats& stats) {
  const int64_t c = stats.channels;
  require(stats.tokens > 0,
          "site " + stats.site + " has no calibration tokens (collect statistics before asking for input norms)");
  require(c > 0 && static_cast<int64_t>(stats.xtx.size()) == c * c,
          "site " + stats.site + ": XᵀX holds " + std::to_string(stats.xtx.size()) + " values for " +
              std::to_string(c) + " channels (statistics are corrupt; collect them again)");
  std::vector<float> norms(static_cast<size_t>(c));
  // The diagonal is a sum of squares; max() only guards against a corrupt negative entry.
  for (int64_t j = 0; j < c; ++j) norms[j] = std::sqrt(std::max(0.0f, stats.xtx[static_cast<size_t>(j * c + j)]));
  return norms;
}

std::vector<uint8_t> wandaMask(const float* w, int64_t rows, int64_t cols, const std::vector<float>& norms,
                               const SparsityTarget& target, MaskScope scope) {
  require(w != nullptr && rows > 0 && cols > 0,
          "Wanda: empty weight [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  checkTarget(target, cols, "Wanda");
  require(static_cast<int64_t>(norms.size()) == cols,
          "Wanda: " + std::to_string(norms.size()) + " input norms for a weight with " + std::to_string(cols) +
              " columns (the statistics belong to another input?)");
  for (int64_t j = 0; j < cols; ++j)
    require(std::isfinite(norms[j]) && norms[j] >= 0,
            "Wanda: the norm of input " + std::to_string(j) +
                " is negative or not finite (check the calibration activations)");
  for (int64_t i = 0; i < rows * cols; ++i)
    require(std::isfinite(w[i]), "Wanda: the weight has a NaN or infinite value (check the checkpoint)");
  std::vector<float> score(static_cast<size_t>(rows * cols));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) score[r * cols + j] = std::fabs(w[r * cols + j]) * norms[j];
  return selectMask(score.data(), rows, cols, target, scope);
}

}  // namespace slmc

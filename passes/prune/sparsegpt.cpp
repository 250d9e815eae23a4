#include "passes/prune/sparsegpt.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "lib/support/error.h"
#include "lib/support/number_format.h"
#include "passes/quantize/second_order.h"

namespace slmc {

SparseGptResult sparsegptPrune(const float* w, int64_t rows, int64_t cols, std::vector<double> hessian,
                               const SparsityTarget& target, const SparseGptOptions& options) {
  require(w != nullptr && rows > 0 && cols > 0,
          "SparseGPT: empty weight [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  require(options.block_size > 0,
          "SparseGPT: block_size must be positive (got " + std::to_string(options.block_size) + ")");
  require(std::isfinite(options.damp) && options.damp >= 0,
          "SparseGPT: damp must be a non-negative number (got " + formatNumber(options.damp) + "; 0.01 is usual)");
  checkTarget(target, cols, "SparseGPT");

  Eigen::MatrixXd h = hessianMatrix(hessian, cols, "SparseGPT");
  std::vector<double>().swap(hessian);
  const Eigen::MatrixXf h_error = h.cast<float>();  // the caller's H, for the reported error

  RowMatrixF weight = Eigen::Map<const RowMatrixF>(w, rows, cols);
  require(weight.allFinite(), "SparseGPT: the weight has a NaN or infinite value (check the checkpoint)");
  for (const int64_t d : fixDeadInputs(h)) weight.col(d).setZero();

  SparseGptResult result;
  Eigen::MatrixXd u_double;
  result.damp_used = dampedInverseFactor(h, options.damp, u_double, "SparseGPT");
  h.resize(0, 0);
  const RowMatrixF u = u_double.cast<float>();
  u_double.resize(0, 0);

  // N:M groups are chosen on weights that have received every earlier update: blocks hold whole
  // groups (cols is a multiple of m, so the last, shorter block does too).
  const bool nm = target.isNM();
  const int m = target.m, prune_per_group = target.m - target.n;
  int64_t block = options.block_size;
  if (nm) block = std::max<int64_t>(1, block / m) * m;

  result.mask.assign(static_cast<size_t>(rows * cols), 0);
  uint8_t* mask = result.mask.data();
  for (int64_t i1 = 0; i1 < cols; i1 += block) {
    const int64_t i2 = std::min(i1 + block, cols), count = i2 - i1;
    if (!nm) {
      // The block's mask, decided once on its current weights over all of its rows.
      RowMatrixF score(rows, count);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = i1; j < i2; ++j) score(r, j - i1) = std::fabs(weight(r, j)) / u(j, j);
      const std::vector<uint8_t> block_mask = selectMask(score.data(), rows, count, target, MaskScope::Tensor);
      for (int64_t r = 0; r < rows; ++r)
        std::copy_n(block_mask.data() + r * count, count, mask + r * cols + i1);
    }
    RowMatrixF errors(rows, count);
    // Rows are independent: each walks the block's columns on its own.
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      float* wr = weight.data() + r * cols;
      uint8_t* mr = mask + r * cols;
      std::vector<float> group(nm ? static_cast<size_t>(m) : 0);
      for (int64_t j = i1; j < i2; ++j) {
        if (nm && (j - i1) % m == 0) {
          for (int c = 0; c < m; ++c) group[c] = std::fabs(wr[j + c]) / u(j + c, j + c);
          markLowest(group.data(), m, prune_per_group, mr + j);
        }
        if (!mr[j]) {  // kept: its (updated) value stays, nothing to propagate
          errors(r, j - i1) = 0.0f;
          continue;
        }
        const float* u_row = u.data() + j * cols;
        const float err = wr[j] / u_row[j];
        wr[j] = 0.0f;
        errors(r, j - i1) = err;
        for (int64_t c = j + 1; c < i2; ++c) wr[c] -= err * u_row[c];
      }
    }
    // Lazy batch update: the block's errors reach every later column in one product.
    if (i2 < cols) weight.rightCols(cols - i2).noalias() -= errors * u.block(i1, i2, count, cols - i2);
  }

  result.weight.assign(weight.data(), weight.data() + rows * cols);
  result.error = hessianError(w, result.weight.data(), rows, cols, h_error);
  return result;
}

}  // namespace slmc

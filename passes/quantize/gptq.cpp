#include "passes/quantize/gptq.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "lib/support/error.h"
#include "lib/support/number_format.h"
#include "passes/quantize/blas.h"
#include "passes/quantize/grid_search.h"
#include "passes/quantize/rtn.h"
#include "passes/quantize/second_order.h"

namespace slmc {

GptqResult gptqQuantize(const float* w, int64_t rows, int64_t cols, std::vector<double> hessian,
                        const QuantScheme& scheme, const GptqOptions& options, const uint8_t* pruned) {
  validateBits(scheme.bits());
  validateObserverOptions(options.observer, scheme.bits());
  require(w != nullptr && rows > 0 && cols > 0,
          "GPTQ: empty weight [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  require(options.block_size > 0, "GPTQ: block_size must be positive (got " + std::to_string(options.block_size) + ")");
  require(std::isfinite(options.damp) && options.damp >= 0,
          "GPTQ: damp must be a non-negative number (got " + formatNumber(options.damp) + "; 0.01 is usual)");
  const int64_t groups = groupsPerRow(scheme, cols), gs = cols / groups;
  const int bits = scheme.bits();
  const bool act_order = options.act_order;

  Eigen::MatrixXd h = hessianMatrix(hessian, cols, "GPTQ");
  std::vector<double>().swap(hessian);
  const Eigen::MatrixXf h_error = h.cast<float>();  // the caller's H, for the reported errors

  RowMatrixF weight = Eigen::Map<const RowMatrixF>(w, rows, cols);
  require(weight.allFinite(), "GPTQ: the weight has a NaN or infinite value (check the checkpoint)");
  for (const int64_t d : fixDeadInputs(h)) weight.col(d).setZero();

  // Column order: natural, or decreasing diag(H) (stable, so deterministic on ties).
  std::vector<int64_t> perm(static_cast<size_t>(cols));
  std::iota(perm.begin(), perm.end(), 0);
  std::vector<GroupGrid> grids(static_cast<size_t>(rows * groups));
  // The importance of each input column for the scale search: E[x²] up to GPTQ's factor 2,
  // zero for dead inputs.
  const bool search = options.scale_search && options.observer.kind == ObserverKind::MinMax;
  std::vector<float> importance(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) importance[static_cast<size_t>(c)] = h_error(c, c);
  if (act_order) {
    // Static groups: fit on the original (dead-zeroed) weights, contiguous in storage order.
    grids = search ? searchedGrids(weight.data(), rows, cols, scheme, importance.data())
                   : observedGrids(weight.data(), rows, cols, scheme, options.observer);
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return h(a, a) > h(b, b); });
    RowMatrixF wp(rows, cols);
    Eigen::MatrixXd hp(cols, cols);
    for (int64_t k = 0; k < cols; ++k) {
      wp.col(k) = weight.col(perm[static_cast<size_t>(k)]);
      for (int64_t l = 0; l < cols; ++l) hp(l, k) = h(perm[static_cast<size_t>(l)], perm[static_cast<size_t>(k)]);
    }
    weight = std::move(wp);
    h = std::move(hp);
  }

  GptqResult result;
  Eigen::MatrixXd u_double;
  result.damp_used = dampedInverseFactor(h, options.damp, u_double, "GPTQ");
  h.resize(0, 0);
  const RowMatrixF u = u_double.cast<float>();
  u_double.resize(0, 0);

  // Without act_order a group's grid is fit when the walk reaches its first column: blocks hold
  // whole groups so that every column of the group has received all earlier updates by then.
  int64_t block = options.block_size;
  if (!act_order && scheme.group_size > 0) block = std::max<int64_t>(1, block / gs) * gs;

  QuantizedTensor& q = result.q;
  q.scheme = scheme;
  q.rows = rows;
  q.cols = cols;
  q.codes.assign(static_cast<size_t>(rows * cols), 0);
  for (int64_t i1 = 0; i1 < cols; i1 += block) {
    const int64_t i2 = std::min(i1 + block, cols), count = i2 - i1;
    RowMatrixF errors(rows, count);
    // Rows are independent: each walks the block's columns on its own.
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      float* wr = weight.data() + r * cols;
      GroupGrid* row_grids = grids.data() + r * groups;
      for (int64_t j = i1; j < i2; ++j) {
        const int64_t col = perm[static_cast<size_t>(j)];
        if (!act_order && j % gs == 0) {
          if (search) {
            row_grids[j / gs] = searchGroupGrid(wr + j, importance.data() + j, gs, bits, scheme.symmetric);
          } else {
            const ValueRange range = observeRange(wr + j, gs, bits, scheme.symmetric, options.observer);
            row_grids[j / gs] = gridForRange(range.lo, range.hi, bits, scheme.symmetric);
          }
        }
        const GroupGrid g = row_grids[col / gs];
        const bool is_pruned = pruned != nullptr && pruned[r * cols + col] != 0;
        const uint8_t code = is_pruned ? g.zero : quantizeValue(wr[j], g, bits);
        q.codes[static_cast<size_t>(r * cols + col)] = code;
        const float* u_row = u.data() + j * cols;
        const float err = (wr[j] - dequantizeValue(code, g)) / u_row[j];
        errors(r, j - i1) = err;
        for (int64_t c = j + 1; c < i2; ++c) wr[c] -= err * u_row[c];
      }
    }
    // Lazy batch update: the block's errors reach every later column in one product.
    if (i2 < cols)
      blas::gemmRowMajor(false, false, rows, cols - i2, count, -1.0f, errors.data(), count, u.data() + i1 * cols + i2,
                         cols, 1.0f, weight.data() + i2, cols);
  }
  q.scales.resize(grids.size());
  q.zeros.resize(grids.size());
  for (size_t i = 0; i < grids.size(); ++i) {
    q.scales[i] = grids[i].scale;
    q.zeros[i] = grids[i].zero;
  }

  const Tensor w_hat = q.dequantize();
  result.error = hessianError(w, w_hat.floats(), rows, cols, h_error);
  const Tensor w_rtn =
      (search ? quantizeOnGrids(w, rows, cols, scheme, searchedGrids(w, rows, cols, scheme, importance.data()))
              : quantizeRtnObserved(w, rows, cols, scheme, options.observer))
          .dequantize();
  result.rtn_error = hessianError(w, w_rtn.floats(), rows, cols, h_error);
  return result;
}

}  // namespace slmc

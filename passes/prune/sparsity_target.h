// What a pruning method is asked for and the mask arithmetic every method shares: a target
// (unstructured fraction or N:M), its validation, choosing the lowest scores, and checks on a
// pruned weight. LibTorch-free.
//
// Conventions: a weight is row-major float [rows, cols] = [out_features, in_features]; a mask is
// one uint8_t per weight, 1 = pruned (the weight is set to exactly 0.0f). N:M means "at most n
// non-zeros in every group of m consecutive weights of a row" (NVIDIA's definition: 2:4 and 4:8
// both prune half, and the sparse tensor cores accelerate 2:4 along the input dimension).
//
// Mask selection is exact and deterministic: a count, not a threshold, decides how many weights
// go (round(fraction·count), half away from zero), and among equal scores the lower index is
// pruned first. A threshold (`score <= t`, as the reference implementations write it) prunes
// every tie, so the achieved sparsity would depend on the data; the index order also makes the
// mask independent of the thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace slmc {

struct SparsityTarget {
  double sparsity = 0;  // unstructured: the fraction of weights set to zero, in [0, 1)
  int n = 0, m = 0;     // N:M (m > 0): at most n non-zeros in every m consecutive weights of a row

  bool isNM() const { return m > 0; }
  // The fraction of zeros asked for: sparsity, or 1 - n/m.
  double fraction() const;
  // "50%" or "2:4" (for logs and reports).
  std::string name() const;
};

// "2:4" → {n = 2, m = 4}. Throws Error naming the text unless it is two whole numbers N:M with
// 0 < N < M.
SparsityTarget parseNM(const std::string& text);

// Throws Error (naming `tensor`) unless the target can be applied to a weight with `cols` inputs:
// unstructured sparsity in [0, 1); N:M with 0 < n < m and m dividing cols.
void checkTarget(const SparsityTarget& target, int64_t cols, const std::string& tensor);

// Where an unstructured target's budget is spent. Row: every output row loses the same number
// of weights (Wanda's comparison group: output rows compete only with themselves). Tensor: the
// lowest scores of the whole weight go, however they fall over the rows.
enum class MaskScope { Row, Tensor };

// The mask pruning the lowest scores of a row-major [rows, cols] score matrix:
//   unstructured, Tensor scope: exactly round(fraction·rows·cols) over the whole matrix;
//   unstructured, Row scope:    exactly round(fraction·cols) in every row;
//   N:M (scope ignored):        the m - n lowest of every group of m consecutive columns.
// Ties go to the lower index (row-major). Throws Error on a bad target or a NaN score.
std::vector<uint8_t> selectMask(const float* score, int64_t rows, int64_t cols, const SparsityTarget& target,
                                MaskScope scope);

// Sets mask[i] = 1 for the k lowest of score[0, count) (ties: lower index first); the other
// entries of mask are left alone. The primitive under selectMask, exposed for methods that
// choose masks group by group while they update the weights (SparseGPT). Scores must not be NaN.
void markLowest(const float* score, int64_t count, int64_t k, uint8_t* mask);

// Number of entries equal to 0.0f (or -0.0f).
int64_t countZeros(const float* w, int64_t n);

// Whether every group of m consecutive weights of every row of a row-major [rows, cols] weight
// holds at most n non-zeros. On false, *where (when given) says where the first violation is:
// "row r, columns c..c+m-1 hold k non-zeros" (or why the layout cannot hold the pattern).
bool satisfiesNM(const float* w, int64_t rows, int64_t cols, int n, int m, std::string* where = nullptr);

// w[i] = 0.0f wherever mask[i] is set (mask.size() weights).
void applyMask(float* w, const std::vector<uint8_t>& mask);

}  // namespace slmc

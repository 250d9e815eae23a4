#include "passes/prune/sparsity_target.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "lib/support/error.h"
#include "lib/support/number_format.h"

namespace slmc {

namespace {

// A whole number of at most 6 digits (N:M patterns are small; this also rules out overflow).
bool parseCount(const std::string& text, int& value) {
  if (text.empty() || text.size() > 6) return false;
  value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

int64_t roundedCount(double fraction, int64_t count) {
  return std::min<int64_t>(count, std::llround(fraction * static_cast<double>(count)));
}

}  // namespace

double SparsityTarget::fraction() const { return isNM() ? 1.0 - static_cast<double>(n) / m : sparsity; }

std::string SparsityTarget::name() const {
  if (isNM()) return std::to_string(n) + ":" + std::to_string(m);
  return formatNumber(sparsity * 100) + "%";
}

SparsityTarget parseNM(const std::string& text) {
  const size_t colon = text.find(':');
  SparsityTarget t;
  require(colon != std::string::npos && parseCount(text.substr(0, colon), t.n) &&
              parseCount(text.substr(colon + 1), t.m),
          "N:M sparsity '" + text + "' is not of the form N:M with two whole numbers (e.g. 2:4 or 4:8)");
  require(t.n > 0 && t.n < t.m, "N:M sparsity '" + text +
                                    "' needs 0 < N < M: N weights are kept in every M (e.g. 2:4 keeps 2 of every 4)");
  return t;
}

void checkTarget(const SparsityTarget& target, int64_t cols, const std::string& tensor) {
  if (target.isNM()) {
    require(target.n > 0 && target.n < target.m, tensor + ": N:M sparsity " + target.name() +
                                                     " needs 0 < N < M: N weights are kept in every M (e.g. 2:4)");
    require(cols > 0 && cols % target.m == 0,
            tensor + ": N:M sparsity " + target.name() + " needs the row width to be a multiple of M, but it has " +
                std::to_string(cols) + " columns and M = " + std::to_string(target.m) +
                " (choose an M that divides " + std::to_string(cols) + ", or leave this tensor dense)");
    return;
  }
  require(std::isfinite(target.sparsity) && target.sparsity >= 0 && target.sparsity < 1,
          tensor + ": sparsity " + formatNumber(target.sparsity) +
              " is out of range: sparsity must be in [0, 1) (the fraction of weights set to zero, e.g. 0.5)");
}

void markLowest(const float* score, int64_t count, int64_t k, uint8_t* mask) {
  if (k <= 0) return;
  if (k >= count) {
    std::fill(mask, mask + count, uint8_t{1});
    return;
  }
  // Small groups (N:M): k scans, each taking the lowest not yet taken; the strict `<` keeps the
  // lower index among equal scores.
  constexpr int64_t kSmall = 32;
  if (count <= kSmall) {
    bool taken[kSmall] = {};
    for (int64_t step = 0; step < k; ++step) {
      int64_t best = -1;
      for (int64_t i = 0; i < count; ++i)
        if (!taken[i] && (best < 0 || score[i] < score[best])) best = i;
      taken[best] = true;
      mask[best] = 1;
    }
    return;
  }
  // Rows and tensors: the k-th lowest value t by selection (O(count)), then everything below t
  // and, in index order, as many entries equal to t as the count still needs.
  std::vector<float> sorted(score, score + count);
  std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end());
  const float t = sorted[static_cast<size_t>(k - 1)];
  int64_t left = k;
  for (int64_t i = 0; i < count; ++i)
    if (score[i] < t) {
      mask[i] = 1;
      --left;
    }
  for (int64_t i = 0; i < count && left > 0; ++i)
    if (score[i] == t) {
      mask[i] = 1;
      --left;
    }
}

std::vector<uint8_t> selectMask(const float* score, int64_t rows, int64_t cols, const SparsityTarget& target,
                                MaskScope scope) {
  require(score != nullptr && rows > 0 && cols > 0,
          "selectMask: empty score matrix [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  checkTarget(target, cols, "selectMask");
  const int64_t total = rows * cols;
  for (int64_t i = 0; i < total; ++i)
    require(!std::isnan(score[i]), "selectMask: the score of row " + std::to_string(i / cols) + ", column " +
                                       std::to_string(i % cols) +
                                       " is NaN (a NaN weight or calibration statistic?)");
  std::vector<uint8_t> mask(static_cast<size_t>(total), 0);
  if (target.isNM()) {
    const int m = target.m, prune = target.m - target.n;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; c += m) markLowest(score + r * cols + c, m, prune, mask.data() + r * cols + c);
  } else if (scope == MaskScope::Row) {
    const int64_t k = roundedCount(target.sparsity, cols);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) markLowest(score + r * cols, cols, k, mask.data() + r * cols);
  } else {
    markLowest(score, total, roundedCount(target.sparsity, total), mask.data());
  }
  return mask;
}

int64_t countZeros(const float* w, int64_t n) {
  int64_t zeros = 0;
  for (int64_t i = 0; i < n; ++i) zeros += w[i] == 0.0f;
  return zeros;
}

bool satisfiesNM(const float* w, int64_t rows, int64_t cols, int n, int m, std::string* where) {
  if (m <= 0 || cols % m != 0) {
    if (where) *where = "the row width " + std::to_string(cols) + " is not a multiple of m = " + std::to_string(m);
    return false;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; c += m) {
      const int64_t nonzeros = m - countZeros(w + r * cols + c, m);
      if (nonzeros > n) {
        if (where)
          *where = "row " + std::to_string(r) + ", columns " + std::to_string(c) + ".." + std::to_string(c + m - 1) +
                   " hold " + std::to_string(nonzeros) + " non-zeros";
        return false;
      }
    }
  return true;
}

void applyMask(float* w, const std::vector<uint8_t>& mask) {
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) w[i] = 0.0f;
}

}  // namespace slmc

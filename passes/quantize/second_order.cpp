#include "passes/quantize/second_order.h"

#include <cmath>

#include "lib/support/error.h"
#include "lib/support/number_format.h"
#include "passes/quantize/blas.h"

namespace slmc {

Eigen::MatrixXd hessianMatrix(const std::vector<double>& hessian, int64_t cols, const std::string& who) {
  require(cols > 0 && static_cast<int64_t>(hessian.size()) == cols * cols,
          who + ": the Hessian has " + std::to_string(hessian.size()) + " entries for " + std::to_string(cols) +
              " inputs (expected " + std::to_string(cols) + "x" + std::to_string(cols) + ")");
  Eigen::MatrixXd h = Eigen::Map<const Eigen::MatrixXd>(hessian.data(), cols, cols);
  require(h.allFinite(), who + ": the Hessian has a NaN or infinite entry (check the calibration activations)");
  return h;
}

Eigen::VectorXd hessianErrorRows(const Eigen::Ref<const RowMatrixF>& e, const Eigen::MatrixXf& h) {
  // E·H with H symmetric, so its column-major storage is also its row-major one.
  RowMatrixF eh(e.rows(), e.cols());
  blas::gemmRowMajor(false, false, e.rows(), h.cols(), e.cols(), 1.0f, e.data(), e.outerStride(), h.data(),
                     h.rows(), 0.0f, eh.data(), eh.cols());
  return eh.cwiseProduct(e).cast<double>().rowwise().sum();
}

double hessianError(const Eigen::Ref<const RowMatrixF>& e, const Eigen::MatrixXf& h) {
  return hessianErrorRows(e, h).sum();
}

double hessianError(const float* w, const float* w_hat, int64_t rows, int64_t cols, const Eigen::MatrixXf& h) {
  const Eigen::Map<const RowMatrixF> a(w, rows, cols), b(w_hat, rows, cols);
  return hessianError(RowMatrixF(b - a), h);
}

std::vector<int64_t> fixDeadInputs(Eigen::MatrixXd& h) {
  std::vector<int64_t> dead;
  for (Eigen::Index i = 0; i < h.rows(); ++i)
    if (h(i, i) == 0) {
      h(i, i) = 1;
      dead.push_back(i);
    }
  return dead;
}

double dampingFor(const Eigen::MatrixXd& h, double fraction) { return fraction * h.diagonal().mean(); }

bool upperCholeskyOfInverse(const Eigen::MatrixXd& h, Eigen::MatrixXd& u) {
  const Eigen::Index n = h.rows();
  // J H J = L Lᵀ with J the index reversal, so H = R Rᵀ with R = J L J upper and
  // H⁻¹ = (R⁻¹)ᵀ R⁻¹: U = R⁻¹ = J L⁻¹ J. LAPACK's potrf + trtri (blas.h): most of GPTQ's
  // time on 1536-input layers was Eigen's factorisation.
  Eigen::MatrixXd l = h.reverse();
  if (!blas::choleskyLower(l.data(), n) || !blas::invertLowerTriangular(l.data(), n)) return false;
  l.triangularView<Eigen::StrictlyUpper>().setZero();
  u = l.reverse();
  return u.allFinite() && (u.diagonal().array() > 0).all();
}

double dampedInverseFactor(const Eigen::MatrixXd& h, double damp, Eigen::MatrixXd& u, const std::string& who) {
  double fraction = damp;
  for (int attempt = 0;; ++attempt) {
    Eigen::MatrixXd damped = h;
    damped.diagonal().array() += dampingFor(h, fraction);
    if (upperCholeskyOfInverse(damped, u)) return fraction;
    require(attempt < 3, who + ": Hessian is not positive definite even with damping " + formatNumber(fraction) +
                             " (too few calibration tokens for " + std::to_string(h.rows()) + " inputs?)");
    fraction = fraction > 0 ? fraction * 10 : 0.01;  // damp 0: retry from the usual 1%
  }
}

}  // namespace slmc

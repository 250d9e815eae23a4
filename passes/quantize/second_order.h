// Second-order helpers shared by the Hessian-based compressors (GPTQ, AWQ, SparseGPT): the
// output error of a weight perturbation measured through H = c·XᵀX, dead-input handling,
// damping and the upper Cholesky factor of H⁻¹. LibTorch-free (Eigen, OpenMP-parallel products).
//
// Conventions: a weight is row-major [rows, cols] = [out_features, in_features]; a Hessian is
// the [cols, cols] matrix c·XᵀX over calibration tokens X [n, cols] (row-major or not: it is
// symmetric). With E = Ŵ - W, Σ_r e_r H e_rᵀ = tr(E H Eᵀ) = c·‖E Xᵀ‖²_F, the squared output
// error of the layer over the calibration tokens, scaled by c (GPTQ's SiteStats::hessian() has
// c = 2/n).
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

namespace slmc {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// One linear's weight: row-major [rows, cols], cols known from the context (the input width).
struct LinearRef {
  const float* w = nullptr;
  int64_t rows = 0;
};

// The caller's [cols, cols] Hessian as an Eigen matrix; throws Error (naming `who`) unless it has
// cols² finite entries.
Eigen::MatrixXd hessianMatrix(const std::vector<double>& hessian, int64_t cols, const std::string& who);

// Σ_r e_r H e_rᵀ for E [rows, cols] (float products, float64 sum).
double hessianError(const Eigen::Ref<const RowMatrixF>& e, const Eigen::MatrixXf& h);
// Per row: e_r H e_rᵀ.
Eigen::VectorXd hessianErrorRows(const Eigen::Ref<const RowMatrixF>& e, const Eigen::MatrixXf& h);
// The same for E = w_hat - w given as row-major buffers.
double hessianError(const float* w, const float* w_hat, int64_t rows, int64_t cols, const Eigen::MatrixXf& h);

// Inputs that never fire (H_ii == 0): sets H_ii = 1 so H can be factorized and returns their
// indices; the caller zeroes the matching weight columns (they never contribute to the output).
std::vector<int64_t> fixDeadInputs(Eigen::MatrixXd& h);

// λ = fraction · mean(diag H).
double dampingFor(const Eigen::MatrixXd& h, double fraction);

// The upper-triangular U with UᵀU = H⁻¹ (the factor GPTQ and SparseGPT walk row by row).
// Computed as R⁻¹ where H = R Rᵀ, R upper (the Cholesky factor of H with its index order
// reversed): Cholesky factors are unique, so this is exactly chol(H⁻¹, upper) with one
// factorization and one triangular inverse instead of two factorizations and a full inverse.
// Returns false when H is not (numerically) positive definite.
bool upperCholeskyOfInverse(const Eigen::MatrixXd& h, Eigen::MatrixXd& u);

// H + damp·mean(diag H)·I factorized by upperCholeskyOfInverse, retrying with ×10 damping up to
// three times when H is not positive definite (GPTQ's and SparseGPT's reference behaviour).
// Returns the damping fraction that worked; throws Error naming `who` when none did.
double dampedInverseFactor(const Eigen::MatrixXd& h, double damp, Eigen::MatrixXd& u, const std::string& who);

}  // namespace slmc

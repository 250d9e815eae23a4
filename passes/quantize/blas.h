// The few BLAS / LAPACK routines the second-order quantizers' dense algebra spends its time in,
// called through the system's libblas.so.3 / liblapack.so.3 (OpenBLAS on a set-up machine, the
// library LibTorch already loads). Eigen's own products are compiled for the baseline x86-64
// (SSE2) here, OpenBLAS picks AVX2 / AVX-512 kernels at run time: on SmolLM2's shapes its
// 1536×1536 Cholesky + triangular inverse takes 0.07 s against Eigen's 0.33 s, and a
// 1536×576×576 product 5 ms against 19 ms (2 threads).
//
// Row-major float products (Eigen RowMatrixF's layout) and column-major double factorisations
// (Eigen MatrixXd's). Dimensions must fit LAPACK's 32-bit integers.
#pragma once

#include <cstdint>

namespace slmc::blas {

// C = alpha·op(A)·op(B) + beta·C for row-major A (op(A) [m, k]), B (op(B) [k, n]), C [m, n] with
// leading dimensions lda, ldb, ldc (elements per row).
void gemmRowMajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                  int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// The lower Cholesky factor L (A = L Lᵀ) of the symmetric column-major [n, n] matrix in place
// (its lower triangle; the strict upper one is left as it was). False when A is not positive
// definite.
bool choleskyLower(double* a, int64_t n);

// The inverse of the lower-triangular column-major [n, n] matrix in place (lower triangle).
// False when it is singular.
bool invertLowerTriangular(double* a, int64_t n);

}  // namespace slmc::blas

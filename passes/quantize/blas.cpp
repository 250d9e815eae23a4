#include "passes/quantize/blas.h"

#include <climits>
#include <string>

#include "lib/support/error.h"

// Fortran BLAS / LAPACK (LP64: 32-bit integers), as libblas.so.3 / liblapack.so.3 export them.
extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
            const int* ldc);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dtrtri_(const char* uplo, const char* diag, const int* n, double* a, const int* lda, int* info);
}

namespace slmc::blas {

namespace {

int lapackInt(int64_t v, const char* what) {
  require(v >= 0 && v <= INT_MAX, std::string("BLAS: ") + what + " " + std::to_string(v) + " exceeds 32-bit LAPACK");
  return static_cast<int>(v);
}

}  // namespace

void gemmRowMajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                  int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, the row-major arrays read as
  // their column-major transposes: swap the operands, keep each one's transpose flag.
  const int mi = lapackInt(m, "rows"), ni = lapackInt(n, "columns"), ki = lapackInt(k, "inner size");
  const int ldai = lapackInt(lda, "lda"), ldbi = lapackInt(ldb, "ldb"), ldci = lapackInt(ldc, "ldc");
  const char ta = trans_a ? 'T' : 'N', tb = trans_b ? 'T' : 'N';
  sgemm_(&tb, &ta, &ni, &mi, &ki, &alpha, b, &ldbi, a, &ldai, &beta, c, &ldci);
}

bool choleskyLower(double* a, int64_t n) {
  const int ni = lapackInt(n, "order");
  int info = 0;
  dpotrf_("L", &ni, a, &ni, &info);
  require(info >= 0, "BLAS: dpotrf rejected argument " + std::to_string(-info));
  return info == 0;
}

bool invertLowerTriangular(double* a, int64_t n) {
  const int ni = lapackInt(n, "order");
  int info = 0;
  dtrtri_("L", "N", &ni, a, &ni, &info);
  require(info >= 0, "BLAS: dtrtri rejected argument " + std::to_string(-info));
  return info == 0;
}

}  // namespace slmc::blas

// The runtime's matmul kernels (runtime/kernels.h), in the manner of llama.cpp's
// test-quantize-fns.cpp: random weights quantized by lib's quantizeRtn and packed by lib's
// packCodes, then
//   scalar path  == lib's QuantizedTensor::dequantize() followed by a double-precision dot,
//   SIMD paths   == scalar path,
// both within kTolerance of the sum of |products| of each output, for every bit width,
// symmetric and asymmetric grids, several group sizes, odd shapes and batch sizes.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "lib/model/bit_packing.h"
#include "lib/model/dtype.h"
#include "lib/model/quant_scheme.h"
#include "lib/model/quantized_tensor.h"
#include "runtime/kernels.h"
#include "runtime/kernels_internal.h"

namespace rt = slmc::runtime;

namespace {

// Summation-order differences in float32 stay far below this on the tested lengths (<= 1024).
constexpr double kTolerance = 1e-5;

std::vector<float> randomValues(size_t count, std::mt19937& rng, float outlier_every = 0) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(count);
  for (size_t i = 0; i < count; ++i) {
    v[i] = normal(rng);
    if (outlier_every > 0 && i % static_cast<size_t>(outlier_every) == 3) v[i] *= 8.0f;  // a few wide groups
  }
  return v;
}

// lib's quantized tensor in the runtime's storage (what the pack holds), with a view on it.
struct PackedWeights {
  std::vector<uint8_t> codes, zeros;
  std::vector<uint16_t> scales;
  rt::QuantMatrix view;
};

PackedWeights pack(const slmc::QuantizedTensor& q) {
  PackedWeights p;
  const int bits = q.scheme.bits();
  p.codes = slmc::packCodes(q.codes.data(), q.rows, q.cols, bits);
  for (float s : q.scales) p.scales.push_back(slmc::floatToHalf(s));
  if (!q.scheme.symmetric) p.zeros = slmc::packCodes(q.zeros.data(), q.rows, q.groups(), bits);
  p.view = rt::QuantMatrix::quantized(*slmc::integerType(bits), q.rows, q.cols, q.scheme.group_size, q.scheme.symmetric,
                                      p.codes.data(), p.scales.data(), q.scheme.symmetric ? nullptr : p.zeros.data());
  return p;
}

// y[n, rows] = x · Wᵀ in double, and the sum of |products| of every output.
struct Reference {
  std::vector<double> y, magnitude;
};

Reference referenceMatmul(const float* w, int64_t rows, int64_t cols, const std::vector<float>& x, int64_t n) {
  Reference ref;
  ref.y.assign(static_cast<size_t>(n * rows), 0.0);
  ref.magnitude.assign(static_cast<size_t>(n * rows), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0, magnitude = 0;
      for (int64_t c = 0; c < cols; ++c) {
        const double p = static_cast<double>(w[r * cols + c]) * x[static_cast<size_t>(i * cols + c)];
        sum += p;
        magnitude += std::fabs(p);
      }
      ref.y[static_cast<size_t>(i * rows + r)] = sum;
      ref.magnitude[static_cast<size_t>(i * rows + r)] = magnitude;
    }
  return ref;
}

// The largest |got - want| / (sum of |products|) over all outputs.
double worstError(const std::vector<float>& got, const std::vector<double>& want,
                  const std::vector<double>& magnitude) {
  double worst = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    const double err = std::fabs(static_cast<double>(got[k]) - want[k]) / std::max(magnitude[k], 1e-30);
    if (!(err <= worst)) worst = err;  // NaN propagates as a failure
  }
  return worst;
}

std::vector<float> runMatmul(const rt::QuantMatrix& w, const std::vector<float>& x, int64_t n, rt::Isa isa) {
  std::vector<float> y(static_cast<size_t>(n * w.rows), std::nanf(""));
  rt::matmul(w, x.data(), n, y.data(), isa);
  return y;
}

// The largest deviation seen per path, reported at the end of the big test case.
double g_worst[3] = {0, 0, 0};

std::vector<rt::Isa> simdIsas() {
  std::vector<rt::Isa> isas;
  for (rt::Isa isa : {rt::Isa::Avx2, rt::Isa::Avx512})
    if (rt::cpuSupports(isa))
      isas.push_back(isa);
    else
      MESSAGE("this CPU has no " << std::string(rt::isaName(isa)) << ": that path is not tested here");
  return isas;
}

// Checks one matrix: scalar against the double reference, each SIMD path against scalar.
void checkAllPaths(const rt::QuantMatrix& w, const float* dequantized, int64_t n, std::mt19937& rng,
                   const std::string& what) {
  INFO(what);
  REQUIRE(rt::checkMatrix(w) == "");
  const std::vector<float> x = randomValues(static_cast<size_t>(n * w.cols), rng);
  const Reference ref = referenceMatmul(dequantized, w.rows, w.cols, x, n);
  const std::vector<float> scalar = runMatmul(w, x, n, rt::Isa::Scalar);
  const double scalar_error = worstError(scalar, ref.y, ref.magnitude);
  CHECK(scalar_error <= kTolerance);
  g_worst[0] = std::max(g_worst[0], scalar_error);
  const std::vector<double> scalar_d(scalar.begin(), scalar.end());
  for (rt::Isa isa : simdIsas()) {
    INFO("path " << std::string(rt::isaName(isa)));
    const double error = worstError(runMatmul(w, x, n, isa), scalar_d, ref.magnitude);
    CHECK(error <= kTolerance);
    g_worst[static_cast<int>(isa)] = std::max(g_worst[static_cast<int>(isa)], error);
  }
}

struct Case {
  int64_t rows, cols, group_size;
};

// Shapes and groups: groups of 32/64/128 and per-channel, plus groups that are not a multiple of
// the SIMD width (24) or of a byte boundary for 3-bit codes (12), and per-channel rows whose
// length is no multiple of 8 (172) or shorter than a 16-wide chunk (12).
std::vector<Case> quantizedCases() {
  std::vector<Case> cases;
  for (int64_t rows : {7, 64, 172})
    for (int64_t cols : {64, 96, 172, 256})
      for (int64_t group : {32, 64, 128, 0, 24, 12})
        if (group == 0 || (cols % group == 0 && group <= cols)) cases.push_back({rows, cols, group});
  cases.push_back({5, 12, 0});
  cases.push_back({3, 8, 0});
  return cases;
}

}  // namespace

TEST_CASE("runtime: weight type table, row sizes and weight bytes agree with lib") {
  for (int bits : {2, 3, 4, 5, 6, 8}) {
    REQUIRE(slmc::integerType(bits).has_value());
    CHECK(slmc::weightTypeTraits(*slmc::integerType(bits)).bits == bits);
    CHECK(slmc::weightTypeTraits(*slmc::integerType(bits)).quantized);
    for (int64_t cols : {1, 7, 8, 12, 33, 172, 4096})
      CHECK(slmc::codeRowBytes(cols, bits) == slmc::packedRowBytes(cols, bits));
    for (bool symmetric : {true, false})
      for (int64_t group : {0, 32, 128}) {
        const slmc::QuantScheme scheme{bits, group, symmetric};
        rt::QuantMatrix m =
            rt::QuantMatrix::quantized(*slmc::integerType(bits), 11, 256, group, symmetric, nullptr, nullptr, nullptr);
        CHECK(m.weightBytes() == slmc::quantizedBytes(scheme, 11, 256));
      }
  }
  CHECK_FALSE(slmc::integerType(7).has_value());
  CHECK_FALSE(slmc::integerType(16).has_value());
  CHECK(rt::QuantMatrix::float32(3, 5, nullptr).weightBytes() == 60);
  CHECK(rt::QuantMatrix::float16(3, 5, nullptr).weightBytes() == 30);
}

TEST_CASE("runtime: float16 conversion equals lib's halfToFloat for every bit pattern") {
  int mismatches = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float a = rt::detail::f16ToF32(static_cast<uint16_t>(h)), b = slmc::halfToFloat(static_cast<uint16_t>(h));
    if (std::memcmp(&a, &b, sizeof a) != 0 && !(std::isnan(a) && std::isnan(b))) ++mismatches;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("runtime: checkMatrix names what is wrong") {
  const uint8_t codes[64] = {};
  const uint16_t scales[8] = {0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00, 0x3C00};
  CHECK(rt::checkMatrix(rt::QuantMatrix::quantized(rt::WeightType::Q4, 2, 64, 32, true, codes, scales, nullptr)) == "");
  CHECK(rt::checkMatrix(rt::QuantMatrix::quantized(rt::WeightType::Q4, 2, 64, 48, true, codes, scales, nullptr))
            .find("does not divide") != std::string::npos);
  CHECK(rt::checkMatrix(rt::QuantMatrix::quantized(rt::WeightType::Q4, 2, 64, 32, false, codes, scales, nullptr))
            .find("zero points") != std::string::npos);
  CHECK(rt::checkMatrix(rt::QuantMatrix::quantized(rt::WeightType::Q4, 2, 64, 32, true, nullptr, scales, nullptr))
            .find("no codes") != std::string::npos);
  CHECK(rt::checkMatrix(rt::QuantMatrix::float32(0, 4, nullptr)).find("empty shape") != std::string::npos);
  CHECK(rt::checkMatrix(rt::QuantMatrix::float32(2, 4, nullptr)).find("no values") != std::string::npos);
}

TEST_CASE("runtime: ISA selection") {
  CHECK(rt::cpuSupports(rt::Isa::Scalar));
  CHECK(rt::cpuSupports(rt::bestIsa()));
  const rt::Isa before = rt::activeIsa();
  CHECK(rt::cpuSupports(before));
  CHECK(rt::setKernelIsa(rt::Isa::Scalar));
  CHECK(rt::activeIsa() == rt::Isa::Scalar);
  CHECK(rt::setKernelIsa(before));
  rt::Isa parsed = rt::Isa::Scalar;
  CHECK(rt::parseIsa("avx512", &parsed));
  CHECK(parsed == rt::Isa::Avx512);
  CHECK_FALSE(rt::parseIsa("neon", &parsed));
  MESSAGE("best path on this CPU: " << std::string(rt::isaName(rt::bestIsa())));
}

TEST_CASE("runtime: quantized matmul, every bit width x grid x group x shape x batch, all paths") {
  std::mt19937 rng(1234);
  int checked = 0;
  for (const Case& c : quantizedCases())
    for (int bits : {2, 3, 4, 5, 6, 8})
      for (bool symmetric : {true, false}) {
        const slmc::QuantScheme scheme{bits, c.group_size, symmetric};
        const std::vector<float> w = randomValues(static_cast<size_t>(c.rows * c.cols), rng, 37);
        const slmc::QuantizedTensor q = slmc::quantizeRtn(w.data(), c.rows, c.cols, scheme);
        const std::vector<float> dequantized = q.dequantize().toFloats();
        const PackedWeights packed = pack(q);
        for (int64_t n = 1; n <= 8; ++n) {  // every gemv width (1-4), gemm tiles and their remainders
          std::ostringstream what;
          what << slmc::schemeName(scheme) << " [" << c.rows << ", " << c.cols << "] n=" << n;
          checkAllPaths(packed.view, dequantized.data(), n, rng, what.str());
          ++checked;
        }
      }
  MESSAGE(checked << " quantized matrices checked; worst |error| / sum |products|: scalar vs double reference "
                  << g_worst[0] << ", avx2 vs scalar " << g_worst[1] << ", avx512 vs scalar " << g_worst[2]);
}

TEST_CASE("runtime: bfloat16 conversion equals lib's bf16ToFloat for every bit pattern") {
  for (uint32_t h = 0; h <= 0xffffu; ++h) {
    const float a = rt::detail::bf16ToF32(static_cast<uint16_t>(h)), b = slmc::bf16ToFloat(static_cast<uint16_t>(h));
    REQUIRE(std::memcmp(&a, &b, sizeof a) == 0);
  }
  CHECK(slmc::weightTypeTraits(rt::WeightType::BF16).bits == 16);
  CHECK_FALSE(slmc::weightTypeTraits(rt::WeightType::BF16).quantized);
  CHECK(rt::QuantMatrix::bfloat16(3, 5, nullptr).weightBytes() == 30);
  CHECK(rt::checkMatrix(rt::QuantMatrix::bfloat16(3, 5, nullptr)) == "bf16 weight matrix has no values");
}

TEST_CASE("runtime: float32 and float16 weights, all paths") {
  std::mt19937 rng(99);
  for (int64_t rows : {1, 7, 64, 172})
    for (int64_t cols : {5, 8, 33, 96, 172, 256})
      for (int64_t n : {1, 2, 3, 4, 5, 7, 8}) {
        const std::vector<float> w = randomValues(static_cast<size_t>(rows * cols), rng);
        checkAllPaths(rt::QuantMatrix::float32(rows, cols, w.data()), w.data(), n, rng,
                      "f32 [" + std::to_string(rows) + ", " + std::to_string(cols) + "] n=" + std::to_string(n));
        std::vector<uint16_t> half(w.size());
        std::vector<float> widened(w.size());
        for (size_t k = 0; k < w.size(); ++k) {
          half[k] = slmc::floatToHalf(w[k]);
          widened[k] = slmc::halfToFloat(half[k]);
        }
        checkAllPaths(rt::QuantMatrix::float16(rows, cols, half.data()), widened.data(), n, rng,
                      "f16 [" + std::to_string(rows) + ", " + std::to_string(cols) + "] n=" + std::to_string(n));
      }
}

TEST_CASE("runtime: bfloat16 weights, all paths, and dequantizeRow widens them exactly") {
  std::mt19937 rng(41);
  for (int64_t rows : {1, 7, 64, 172})
    for (int64_t cols : {5, 8, 16, 33, 96, 172, 256})
      for (int64_t n : {1, 2, 3, 4, 5, 8}) {
        const std::vector<float> w = randomValues(static_cast<size_t>(rows * cols), rng);
        std::vector<uint16_t> bf16(w.size());
        std::vector<float> widened(w.size());
        for (size_t k = 0; k < w.size(); ++k) {
          bf16[k] = slmc::floatToBf16(w[k]);
          widened[k] = slmc::bf16ToFloat(bf16[k]);
        }
        const rt::QuantMatrix m = rt::QuantMatrix::bfloat16(rows, cols, bf16.data());
        checkAllPaths(m, widened.data(), n, rng,
                      "bf16 [" + std::to_string(rows) + ", " + std::to_string(cols) + "] n=" + std::to_string(n));
        std::vector<float> row(static_cast<size_t>(cols));
        rt::dequantizeRow(m, rows - 1, row.data());
        CHECK(std::memcmp(row.data(), widened.data() + (rows - 1) * cols, sizeof(float) * cols) == 0);
      }
}

TEST_CASE("runtime: larger layers split over threads, every batch size from 1 to 9") {
  std::mt19937 rng(5);
  const int64_t rows = 300, cols = 1024;
  const std::vector<float> w = randomValues(static_cast<size_t>(rows * cols), rng, 101);
  for (int bits : {3, 4, 5, 6, 8}) {
    const slmc::QuantScheme scheme{bits, 128, bits != 4 && bits != 5};
    const slmc::QuantizedTensor q = slmc::quantizeRtn(w.data(), rows, cols, scheme);
    const std::vector<float> dequantized = q.dequantize().toFloats();
    const PackedWeights packed = pack(q);
    for (int64_t n = 1; n <= 9; ++n)
      checkAllPaths(packed.view, dequantized.data(), n, rng, slmc::schemeName(scheme) + " n=" + std::to_string(n));
  }
}

TEST_CASE("runtime: dequantizeRow equals lib's dequantize") {
  std::mt19937 rng(8);
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (bool symmetric : {true, false}) {
      const slmc::QuantScheme scheme{bits, 32, symmetric};
      const std::vector<float> w = randomValues(9 * 96, rng);
      const slmc::QuantizedTensor q = slmc::quantizeRtn(w.data(), 9, 96, scheme);
      const std::vector<float> dequantized = q.dequantize().toFloats();
      const PackedWeights packed = pack(q);
      std::vector<float> row(96);
      for (int64_t r = 0; r < 9; ++r) {
        rt::dequantizeRow(packed.view, r, row.data());
        CHECK(std::memcmp(row.data(), dequantized.data() + r * 96, sizeof(float) * 96) == 0);
      }
    }
}

TEST_CASE("runtime: SIMD code loads never read past the end of the codes") {
  // The codes end exactly where an unreadable page begins: a load past them would fault.
  const long page = sysconf(_SC_PAGESIZE);
  void* region =
      mmap(nullptr, static_cast<size_t>(2 * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(region != MAP_FAILED);
  REQUIRE(mprotect(static_cast<char*>(region) + page, static_cast<size_t>(page), PROT_NONE) == 0);
  std::mt19937 rng(3);
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int64_t cols : {8, 16, 24, 40, 64, 72, 128, 160, 256})
      for (int64_t group : {8, 32, 128, 0}) {
        if (group > cols || cols % std::max<int64_t>(group, 1) != 0) continue;
        const int64_t rows = 3;
        const slmc::QuantScheme scheme{bits, group, group == 32};
        const std::vector<float> w = randomValues(static_cast<size_t>(rows * cols), rng);
        const slmc::QuantizedTensor q = slmc::quantizeRtn(w.data(), rows, cols, scheme);
        PackedWeights packed = pack(q);
        uint8_t* end = static_cast<uint8_t*>(region) + page;
        uint8_t* codes = end - packed.codes.size();
        std::memcpy(codes, packed.codes.data(), packed.codes.size());
        packed.view.codes = codes;
        const std::vector<float> dequantized = q.dequantize().toFloats();
        for (int64_t n : {1, 5})
          checkAllPaths(packed.view, dequantized.data(), n, rng,
                        slmc::schemeName(scheme) + " cols=" + std::to_string(cols) + " at a page end");
      }
  munmap(region, static_cast<size_t>(2 * page));
}

namespace {

// x coded as kernels.h documents ActivationCode: per 32-column block, d = max |x| / 127,
// hi = round(x / d) (halves away from zero); Int8: x ≈ d hi; Int8x2: x ≈ d (hi + lo / 256),
// lo = round(256 (x / d - hi)) (to nearest even) clamped to 127.
std::vector<float> int8Coded(const std::vector<float>& x, rt::ActivationCode code) {
  std::vector<float> out(x.size());
  for (size_t b0 = 0; b0 < x.size(); b0 += 32) {
    float amax = 0;
    for (size_t k = b0; k < b0 + 32; ++k) amax = std::max(amax, std::fabs(x[k]));
    const float d = amax / 127.0f, inverse = amax > 0 ? 127.0f / amax : 0.0f;
    for (size_t k = b0; k < b0 + 32; ++k) {
      const float v = x[k] * inverse;
      const float hi = static_cast<float>(static_cast<int>(v >= 0 ? v + 0.5f : v - 0.5f));
      if (code == rt::ActivationCode::Int8) {
        out[k] = d * hi;
      } else {
        const float lo = std::min(127.0f, std::nearbyint((v - hi) * 256.0f));
        out[k] = static_cast<float>(static_cast<double>(d) * (hi + lo / 256.0));
      }
    }
  }
  return out;
}

// The largest error of an Int8x2 product against the exact product of the original x, as a
// fraction of the sum of |products|, over every product checked (reported at the end): with
// activations from N(0, 1), and with every 29th of them 8 times larger (blocks whose d is set
// by an outlier: the error bound d / 512 of the other activations is then larger relative to them).
double g_worst_int8x2[2] = {0, 0};

// Int8x2 on N(0, 1) activations: within this fraction of the sum of |products| of the exact
// product of the original x. The bound Σ_c |w_c| d_c / 512 is about 5e-5 of it (a block's
// max |x| is ~2.5, so d / 512 ~ 4e-5, against E|x| = 0.8); typical errors are ~10x smaller.
constexpr double kInt8x2Tolerance = 5e-5;

// matmulInt8 on x[n, w.cols] (randomValues with `outlier_every`) with `code`: when
// int8MatmulRuns, each output equals the double reference on the coded activations (int8Coded)
// to float summation error, and so lies within the coding bound of the exact product of the
// original x (|x - x coded| <= d / 2 per activation for Int8, d / 512 for Int8x2); Int8x2
// without outliers also within kInt8x2Tolerance of the sum of |products|. Otherwise
// bit-identical to matmul(..., activeIsa()). Returns whether it ran int8.
bool checkInt8(const rt::QuantMatrix& w, const float* dequantized, int64_t n, std::mt19937& rng,
               rt::ActivationCode code = rt::ActivationCode::Int8, int outlier_every = 29) {
  const int64_t rows = w.rows, cols = w.cols;
  const std::vector<float> x = randomValues(static_cast<size_t>(n * cols), rng, static_cast<float>(outlier_every));
  std::vector<float> y(static_cast<size_t>(n * rows)), exact(y.size());
  rt::matmulInt8(w, x.data(), n, y.data(), code);
  if (!rt::int8MatmulRuns(w, n)) {  // it is matmul()
    rt::matmul(w, x.data(), n, exact.data(), rt::activeIsa());
    CHECK(std::memcmp(y.data(), exact.data(), sizeof(float) * y.size()) == 0);
    return false;
  }
  CHECK((w.type == rt::WeightType::Q4 || w.type == rt::WeightType::Q8));
  const Reference coded = referenceMatmul(dequantized, rows, cols, int8Coded(x, code), n);
  CHECK(worstError(y, coded.y, coded.magnitude) <= kTolerance);
  const Reference ref = referenceMatmul(dequantized, rows, cols, x, n);
  const double per_unit = code == rt::ActivationCode::Int8 ? 0.5 : 1.0 / 512;  // |error| / d per activation
  int violations = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < rows; ++r) {
      double bound = 0;
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t b0 = c / 32 * 32;
        float amax = 0;
        for (int64_t k = b0; k < b0 + 32; ++k) amax = std::max(amax, std::fabs(x[i * cols + k]));
        bound += std::fabs(dequantized[r * cols + c]) * (amax / 127.0) * per_unit;
      }
      const size_t k = static_cast<size_t>(i * rows + r);
      if (!(std::fabs(y[k] - ref.y[k]) <= bound * 1.001 + kTolerance * ref.magnitude[k])) ++violations;
    }
  CHECK(violations == 0);
  if (code == rt::ActivationCode::Int8x2) {
    const double worst = worstError(y, ref.y, ref.magnitude);
    if (outlier_every == 0) CHECK(worst <= kInt8x2Tolerance);
    double& seen = g_worst_int8x2[outlier_every == 0 ? 0 : 1];
    seen = std::max(seen, worst);
  }
  return true;
}

}  // namespace

TEST_CASE("runtime: int8 activations (matmulInt8, one and two digits) stay within their coding bounds") {
  // Columns: whole 128-column chunks, chunks plus 32-column blocks (160, 288), blocks only (64,
  // 96), and no multiple of 32 (172: never int8). Groups: inside a chunk (32, 64), whole chunks
  // (128, 256), per-channel, and sizes the kernel leaves to matmul() (12; 96 for 4-bit).
  // Rows: 37 (4-row tiles and single rows) and 300 (split over threads).
  std::mt19937 rng(21);
  int ran = 0;
  for (int bits : {4, 8, 3})
    for (bool symmetric : {true, false})
      for (int64_t group : {32, 64, 128, 256, 0, 12, 96})
        for (int64_t cols : {64, 96, 160, 172, 256, 288, 512}) {
          if (group > cols || (group > 0 && cols % group != 0)) continue;
          for (int64_t rows : {37, 300}) {
            if (rows == 300 && cols != 512 && cols != 288) continue;
            const slmc::QuantScheme scheme{bits, group, symmetric};
            const std::vector<float> w = randomValues(static_cast<size_t>(rows * cols), rng, 37);
            const slmc::QuantizedTensor q = slmc::quantizeRtn(w.data(), rows, cols, scheme);
            const std::vector<float> dequantized = q.dequantize().toFloats();
            const PackedWeights packed = pack(q);
            for (int64_t n : {1, 2, 3, 4, 6})
              for (rt::ActivationCode code : {rt::ActivationCode::Int8, rt::ActivationCode::Int8x2})
                for (int outlier_every : {29, 0}) {
                  if (code == rt::ActivationCode::Int8 && outlier_every == 0) continue;
                  INFO(slmc::schemeName(scheme) << " [" << rows << ", " << cols << "] n=" << n << " "
                                                << rt::activationCodeName(code) << " outliers " << outlier_every);
                  if (checkInt8(packed.view, dequantized.data(), n, rng, code, outlier_every)) ++ran;
                }
          }
        }
  if (rt::cpuHasAvx512Vnni())
    CHECK(ran > 0);
  else
    MESSAGE("this CPU has no AVX-512 VNNI: matmulInt8 ran as matmul() throughout");
  MESSAGE(ran << " int8-activation products checked against their coding bounds; two digits: worst "
              << g_worst_int8x2[0] << " of the sum of |products| off the exact product (allowed "
              << kInt8x2Tolerance << "), " << g_worst_int8x2[1] << " with outliers (bound only)");
  const uint8_t codes[64] = {};
  const uint16_t scales[4] = {0x3C00, 0x3C00, 0x3C00, 0x3C00};
  const auto q = [&](rt::WeightType type, int64_t cols, int64_t group) {
    return rt::QuantMatrix::quantized(type, 1, cols, group, true, codes, scales, nullptr);
  };
  const bool vnni = rt::cpuHasAvx512Vnni() && rt::activeIsa() == rt::Isa::Avx512;
  CHECK_FALSE(rt::int8MatmulRuns(q(rt::WeightType::Q3, 64, 32), 1));
  // 5/6-bit codes have no int8 kernel: their products stay on the exact float path.
  CHECK_FALSE(rt::int8MatmulRuns(q(rt::WeightType::Q5, 64, 32), 1));
  CHECK_FALSE(rt::int8MatmulRuns(q(rt::WeightType::Q6, 64, 32), 1));
  CHECK_FALSE(rt::int8MatmulRuns(q(rt::WeightType::Q4, 64, 32), 5));
  CHECK_FALSE(rt::int8MatmulRuns(q(rt::WeightType::Q8, 48, 16), 1));
  CHECK_FALSE(rt::int8MatmulRuns(q(rt::WeightType::Q4, 192, 96), 1));  // 96-column groups straddle chunks
  CHECK(rt::int8MatmulRuns(q(rt::WeightType::Q4, 96, 0), 1) == vnni);  // per-channel: any multiple of 32
  CHECK(rt::int8MatmulRuns(q(rt::WeightType::Q8, 192, 32), 4) == vnni);
}

TEST_CASE("runtime: activationCode routes matmul() to matmulInt8 where it runs, and only there") {
  std::mt19937 rng(17);
  const int64_t rows = 40, cols = 256;
  const std::vector<float> w = randomValues(static_cast<size_t>(rows * cols), rng);
  const PackedWeights q4 = pack(slmc::quantizeRtn(w.data(), rows, cols, {4, 128, true}));
  const PackedWeights q3 = pack(slmc::quantizeRtn(w.data(), rows, cols, {3, 128, true}));
  const PackedWeights q5 = pack(slmc::quantizeRtn(w.data(), rows, cols, {5, 32, true}));
  const PackedWeights q6 = pack(slmc::quantizeRtn(w.data(), rows, cols, {6, 32, true}));
  const rt::ActivationCode before = rt::activationCode();
  for (rt::ActivationCode code : {rt::ActivationCode::Int8x2, rt::ActivationCode::Int8})
    for (const rt::QuantMatrix& m : {q4.view, q3.view, q5.view, q6.view})
      for (int64_t n : {1, 4, 5}) {
        INFO(std::string(slmc::weightTypeTraits(m.type).name) << " n=" << n << " " << rt::activationCodeName(code));
        const std::vector<float> x = randomValues(static_cast<size_t>(n * cols), rng);
        std::vector<float> routed(static_cast<size_t>(n * rows)), int8(routed.size()), exact(routed.size()),
            float_code(routed.size());
        rt::setActivationCode(code);
        CHECK(rt::activationCode() == code);
        rt::matmul(m, x.data(), n, routed.data());
        rt::matmulInt8(m, x.data(), n, int8.data(), code);
        rt::matmul(m, x.data(), n, exact.data(), rt::activeIsa());
        rt::setActivationCode(rt::ActivationCode::Float);
        rt::matmul(m, x.data(), n, float_code.data());
        const bool ran = rt::int8MatmulRuns(m, n);
        CHECK(std::memcmp(routed.data(), (ran ? int8 : exact).data(), sizeof(float) * routed.size()) == 0);
        CHECK(std::memcmp(float_code.data(), exact.data(), sizeof(float) * routed.size()) == 0);
      }
  rt::setActivationCode(before);
  CHECK(std::string(rt::activationCodeName(rt::ActivationCode::Int8x2)) == "int8x2");
}

TEST_CASE("runtime: int8 activations read no byte past the codes, scales or zeros") {
  // Codes, scales and zeros each end where an unreadable page begins.
  const long page = sysconf(_SC_PAGESIZE);
  std::mt19937 rng(4);
  for (int bits : {4, 8})
    for (int64_t cols : {96, 128, 160, 256})
      for (int64_t group : {32, 64, 128, 0}) {
        if (group > cols || cols % std::max<int64_t>(group, 1) != 0) continue;
        const int64_t rows = 5;
        const slmc::QuantScheme scheme{bits, group, false};
        const std::vector<float> w = randomValues(static_cast<size_t>(rows * cols), rng);
        const slmc::QuantizedTensor q = slmc::quantizeRtn(w.data(), rows, cols, scheme);
        PackedWeights packed = pack(q);
        void* region = mmap(nullptr, static_cast<size_t>(6 * page), PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        REQUIRE(region != MAP_FAILED);
        uint8_t* base = static_cast<uint8_t*>(region);
        for (int guard : {1, 3, 5}) REQUIRE(mprotect(base + guard * page, static_cast<size_t>(page), PROT_NONE) == 0);
        const auto atPageEnd = [&](int p, const void* data, size_t bytes) {
          uint8_t* at = base + p * page - bytes;
          std::memcpy(at, data, bytes);
          return at;
        };
        packed.view.codes = atPageEnd(1, packed.codes.data(), packed.codes.size());
        packed.view.scales = reinterpret_cast<const uint16_t*>(
            atPageEnd(3, packed.scales.data(), packed.scales.size() * sizeof(uint16_t)));
        packed.view.zeros = atPageEnd(5, packed.zeros.data(), packed.zeros.size());
        const std::vector<float> dequantized = q.dequantize().toFloats();
        INFO(slmc::schemeName(scheme) << " cols=" << cols);
        for (int64_t n : {1, 4})
          for (rt::ActivationCode code : {rt::ActivationCode::Int8, rt::ActivationCode::Int8x2})
            checkInt8(packed.view, dequantized.data(), n, rng, code, code == rt::ActivationCode::Int8 ? 29 : 0);
        munmap(region, static_cast<size_t>(6 * page));
      }
}

TEST_CASE("runtime: products of one input (matmulShared, matmulGated) equal separate matmuls") {
  std::mt19937 rng(23);
  // Alike: int4 g128 q/k/v-like shapes (two equal, one not a multiple of the row tile); then
  // int8 per-channel; then a set that reads x differently (another group size, float).
  const auto quantized = [&](int64_t rows, int64_t cols, int bits, int64_t group) {
    const std::vector<float> w = randomValues(static_cast<size_t>(rows * cols), rng);
    return pack(slmc::quantizeRtn(w.data(), rows, cols, slmc::QuantScheme{bits, group, true}));
  };
  const std::vector<float> f32_values = randomValues(96 * 256, rng);
  for (int64_t n : {1, 2, 4, 7}) {
    INFO("n " << n);
    PackedWeights a = quantized(256, 256, 4, 128), b = quantized(96, 256, 4, 128), c = quantized(250, 256, 4, 128);
    PackedWeights d = quantized(256, 256, 8, 0), e = quantized(64, 256, 8, 0), other = quantized(96, 256, 4, 64);
    PackedWeights a2 = quantized(256, 256, 4, 128);
    const rt::QuantMatrix f32 = rt::QuantMatrix::float32(96, 256, f32_values.data());
    const std::vector<float> x = randomValues(static_cast<size_t>(n * 256), rng);
    for (const std::vector<const rt::QuantMatrix*>& set :
         std::vector<std::vector<const rt::QuantMatrix*>>{{&a.view, &b.view, &c.view}, {&d.view, &e.view},
                                                          {&a.view, &other.view, &f32, &d.view}}) {
      std::vector<std::vector<float>> got(set.size());
      std::vector<rt::MatmulOutput> products;
      for (size_t j = 0; j < set.size(); ++j) {
        got[j].assign(static_cast<size_t>(n * set[j]->rows), std::nanf(""));
        products.push_back({set[j], got[j].data()});
      }
      rt::matmulShared(products.data(), static_cast<int>(products.size()), x.data(), n);
      for (size_t j = 0; j < set.size(); ++j) {
        INFO("product " << j << " of " << set.size());
        std::vector<float> want(got[j].size());
        rt::matmul(*set[j], x.data(), n, want.data());
        CHECK(got[j] == want);  // the same kernel on the same prepared x: bit for bit
      }
    }
    // Gated: g = silu(x·Gᵀ) ⊙ (x·Uᵀ), computed block by block, equals the product then the
    // combination; and a pair that reads x differently takes the separate route.
    const rt::GateCombine silu_times = [](float* g, const float* u, int64_t count) {
      for (int64_t k = 0; k < count; ++k) g[k] = g[k] / (1.0f + std::exp(-g[k])) * u[k];
    };
    for (const auto& [gate, up] : std::vector<std::pair<const rt::QuantMatrix*, const rt::QuantMatrix*>>{
             {&a.view, &a2.view}, {&d.view, &d.view}, {&a.view, &d.view}, {&b.view, &other.view}}) {
      const int64_t rows = gate->rows;
      std::vector<float> g(static_cast<size_t>(n * rows), std::nanf("")), u(g.size(), std::nanf(""));
      rt::matmulGated(*gate, *up, x.data(), n, g.data(), u.data(), silu_times);
      std::vector<float> want_g(g.size()), want_u(g.size());
      rt::matmul(*gate, x.data(), n, want_g.data());
      rt::matmul(*up, x.data(), n, want_u.data());
      silu_times(want_g.data(), want_u.data(), static_cast<int64_t>(want_g.size()));
      CHECK(g == want_g);
    }
  }
}

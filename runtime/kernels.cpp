// The weight-type table, matrix checks, and matmul(): split the rows over OpenMP threads and
// hand each range to the chosen path (kernels_scalar.cpp, kernels_avx2.cpp, kernels_avx512.cpp).
#include "runtime/kernels.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <vector>

#include "runtime/kernels_internal.h"

namespace slmc::runtime {

namespace {

detail::MatmulRowsFn rowsFunction(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return detail::matmulRowsAvx512;
    case Isa::Avx2:
      return detail::matmulRowsAvx2;
    case Isa::Scalar:
      break;
  }
  return detail::matmulRowsScalar;
}

Isa initialIsa() {
  Isa isa = bestIsa();
  if (const char* forced = std::getenv("SLMC_KERNEL_ISA")) {
    Isa wanted;
    if (parseIsa(forced, &wanted) && cpuSupports(wanted)) isa = wanted;
  }
  return isa;
}

std::atomic<Isa>& activeIsaSlot() {
  static std::atomic<Isa> slot{initialIsa()};
  return slot;
}

// out = x[cols] in `order` (kernels_internal.h).
void reorderColumns(detail::XOrder order, const float* x, int64_t cols, float* out) {
  if (order == detail::XOrder::Natural) {
    std::memcpy(out, x, static_cast<size_t>(cols) * sizeof(float));
    return;
  }
  const int64_t block = order == detail::XOrder::Nibbles128 ? 128 : 32;
  const int64_t stride = order == detail::XOrder::Nibbles128 ? 8 : 2;  // codes per 32-bit word / per byte
  const int64_t blocked = cols / block * block;
  for (int64_t c0 = 0; c0 < blocked; c0 += block)
    for (int64_t k = 0; k < stride; ++k)
      for (int64_t j = 0; j < block / stride; ++j) out[c0 + k * (block / stride) + j] = x[c0 + j * stride + k];
  std::memcpy(out + blocked, x + blocked, static_cast<size_t>(cols - blocked) * sizeof(float));
}

bool envIsOne(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::strcmp(value, "1") == 0;
}

std::atomic<ActivationCode>& activationCodeSlot() {
  static std::atomic<ActivationCode> slot{envIsOne("SLMC_EXACT_KERNELS")      ? ActivationCode::Float
                                          : envIsOne("SLMC_INT8_ACTIVATIONS") ? ActivationCode::Int8
                                                                               : ActivationCode::Int8x2};
  return slot;
}

// Below this many multiply-adds one thread does the whole product: waking a team costs more.
constexpr int64_t kSerialWork = 64 * 1024;

}  // namespace

int64_t QuantMatrix::weightBytes() const {
  if (!weightTypeTraits(type).quantized) return floatWeightBytes(type, rows, cols);
  return integerBlockBytes(bits(), rows, cols, groups(), symmetric).total();
}

QuantMatrix QuantMatrix::float32(int64_t rows, int64_t cols, const float* values) {
  QuantMatrix m;
  m.type = WeightType::F32;
  m.rows = rows;
  m.cols = cols;
  m.f32 = values;
  return m;
}

QuantMatrix QuantMatrix::float16(int64_t rows, int64_t cols, const uint16_t* values) {
  QuantMatrix m;
  m.type = WeightType::F16;
  m.rows = rows;
  m.cols = cols;
  m.f16 = values;
  return m;
}

QuantMatrix QuantMatrix::bfloat16(int64_t rows, int64_t cols, const uint16_t* values) {
  QuantMatrix m;
  m.type = WeightType::BF16;
  m.rows = rows;
  m.cols = cols;
  m.bf16 = values;
  return m;
}

QuantMatrix QuantMatrix::quantized(WeightType type, int64_t rows, int64_t cols, int64_t group_size, bool symmetric,
                                   const uint8_t* codes, const uint16_t* scales, const uint8_t* zeros) {
  QuantMatrix m;
  m.type = type;
  m.rows = rows;
  m.cols = cols;
  m.codes = codes;
  m.group_size = group_size;
  m.symmetric = symmetric;
  m.scales = scales;
  m.zeros = zeros;
  return m;
}

std::string checkMatrix(const QuantMatrix& w) {
  if (w.rows <= 0 || w.cols <= 0)
    return "weight matrix has an empty shape [" + std::to_string(w.rows) + ", " + std::to_string(w.cols) + "]";
  if (!isWeightType(w.type)) return "weight matrix has an unknown type";
  switch (w.type) {
    case WeightType::F32:
      return w.f32 ? "" : "f32 weight matrix has no values";
    case WeightType::F16:
      return w.f16 ? "" : "f16 weight matrix has no values";
    case WeightType::BF16:
      return w.bf16 ? "" : "bf16 weight matrix has no values";
    default:
      break;
  }
  const std::string name = weightTypeTraits(w.type).name;
  if (w.group_size < 0 || (w.group_size > 0 && w.cols % w.group_size != 0))
    return name + " weight matrix: group size " + std::to_string(w.group_size) + " does not divide its " +
           std::to_string(w.cols) + " columns";
  if (!w.codes || !w.scales) return name + " weight matrix has no codes or no scales";
  if (!w.symmetric && !w.zeros) return name + " weight matrix is asymmetric but has no zero points";
  return "";
}

namespace {

// x as the matrices of one call read it: prepared once per call (reordered for the float path's
// 4-bit kernels, or int8-coded), shared by every thread, and the path's row function.
struct PreparedInput {
  detail::Activations a;
  detail::MatmulRowsFn rows_fn = nullptr;
};

// Prepares x[n, w.cols] for w: the int8 kernel when `code` is not Float and int8MatmulRuns(w, n),
// the `isa` path otherwise. Buffers are thread_local to the caller: valid until its next call.
PreparedInput prepareInput(const QuantMatrix& w, const float* x, int64_t n, ActivationCode code, Isa isa) {
  PreparedInput p;
  p.a.x = x;
  p.a.n = n;
  p.a.x_ordered = x;
  if (code != ActivationCode::Float && int8MatmulRuns(w, n)) {
    const bool split = code == ActivationCode::Int8x2;
    const int64_t cols = w.cols, groups = w.groups(), lanes = cols / detail::int8LaneColumns(w.type);
    thread_local std::vector<int8_t> xq, xq_lo;
    thread_local std::vector<float> lane_scales, group_sums;
    xq.resize(static_cast<size_t>(n * cols));
    if (split) xq_lo.resize(static_cast<size_t>(n * cols));
    lane_scales.resize(static_cast<size_t>(n * lanes));
    group_sums.resize(static_cast<size_t>(n * groups));
    for (int64_t i = 0; i < n; ++i)
      detail::quantizeInt8Vnni(w, x + i * cols, xq.data() + i * cols, split ? xq_lo.data() + i * cols : nullptr,
                               lane_scales.data() + i * lanes, group_sums.data() + i * groups);
    p.a.order = detail::int8XOrder(w.type);
    p.a.xq = xq.data();
    p.a.xq_lo = split ? xq_lo.data() : nullptr;
    p.a.xq_lane_scale = lane_scales.data();
    p.a.xq_group_sum = group_sums.data();
    p.rows_fn = detail::matmulRowsInt8Vnni;
    return p;
  }
  p.rows_fn = rowsFunction(isa);
  if (n <= detail::kMaxGemvRows) p.a.order = detail::gemvXOrder(isa, w);
  if (p.a.order != detail::XOrder::Natural) {
    thread_local std::vector<float> x_ordered;
    x_ordered.resize(static_cast<size_t>(n * w.cols));
    for (int64_t i = 0; i < n; ++i) reorderColumns(p.a.order, x + i * w.cols, w.cols, x_ordered.data() + i * w.cols);
    p.a.x_ordered = x_ordered.data();
  }
  return p;
}

// Whether two matrices read an input alike: prepareInput gives the same result for both.
bool readAlike(const QuantMatrix& a, const QuantMatrix& b) {
  return a.type == b.type && a.cols == b.cols && a.groupSize() == b.groupSize();
}

// A range of one product's rows: the unit a thread takes.
struct RowBlock {
  int product;
  int64_t begin, end;
};

// Appends `rows` split for `threads` threads: first one contiguous block per thread covering
// seven eighths of the rows, then the last eighth in about 2 small blocks per thread, all in
// multiples of 4 rows (the SIMD paths' row tile) and handed out in that order, dynamically.
// A thread's long first block is one stream the hardware prefetcher and the kernels' own
// prefetches stay ahead of: every block start is a cold stream, and on the 2-core VM 8 even
// blocks per thread made int4/int8 generation 10-20% slower than this, and a 3/4 share with 4
// small blocks per thread about 5-10% slower. The small blocks let a thread that another
// process slowed down finish its share late without holding the others up for long.
void appendBlocks(int product, int64_t rows, int threads, std::vector<RowBlock>& blocks) {
  int64_t r = 0;
  const int64_t first = rows * 7 / 8 / threads / 4 * 4;
  if (threads > 1 && first >= 4)
    for (int t = 0; t < threads; ++t, r += first) blocks.push_back({product, r, r + first});
  const int64_t per_block = std::max<int64_t>(4, ((rows - r) / (2 * threads) + 3) / 4 * 4);
  for (; r < rows; r += per_block) blocks.push_back({product, r, std::min(rows, r + per_block)});
}

// Whether products of `work` multiply-adds in all get a team of threads: not for small ones
// (waking a team costs more), nor inside a parallel region (the caller is one of a team).
bool runsInParallel(int64_t work) { return omp_get_max_threads() > 1 && work >= kSerialWork && !omp_in_parallel(); }

// Runs fn(block) for every block of `rows_per_product`'s products (work: their multiply-adds),
// over the OpenMP threads when that pays.
template <class Fn>
void forRowBlocks(const int64_t* rows_per_product, int count, int64_t work, Fn&& fn) {
  const bool parallel = runsInParallel(work);
  thread_local std::vector<RowBlock> blocks;
  blocks.clear();
  for (int j = 0; j < count; ++j) appendBlocks(j, rows_per_product[j], parallel ? omp_get_max_threads() : 1, blocks);
  const int64_t total = static_cast<int64_t>(blocks.size());
  const RowBlock* all = blocks.data();  // the threads of the team read the caller's list
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (int64_t b = 0; b < total; ++b) fn(all[b]);
}

// y_j = x · W_jᵀ for products that all read x as `p` prepared it.
void runProducts(const PreparedInput& p, const MatmulOutput* products, int count) {
  int64_t rows[kMaxSharedProducts], work = 0;
  for (int j = 0; j < count; ++j) {
    rows[j] = products[j].w->rows;
    work += products[j].w->rows * products[j].w->cols * p.a.n;
  }
  forRowBlocks(rows, count, work,
               [&](const RowBlock& b) { p.rows_fn(*products[b.product].w, p.a, products[b.product].y, b.begin, b.end); });
}

}  // namespace

void matmul(const QuantMatrix& w, const float* x, int64_t n, float* y) {
  const MatmulOutput product{&w, y};
  matmulShared(&product, 1, x, n);
}

void matmul(const QuantMatrix& w, const float* x, int64_t n, float* y, Isa isa) {
  if (n <= 0) return;
  const MatmulOutput product{&w, y};
  runProducts(prepareInput(w, x, n, ActivationCode::Float, isa), &product, 1);
}

void matmulShared(const MatmulOutput* products, int count, const float* x, int64_t n) {
  if (n <= 0 || count <= 0) return;
  bool alike = count <= kMaxSharedProducts;
  for (int j = 1; j < count; ++j) alike = alike && readAlike(*products[0].w, *products[j].w);
  if (!alike) {
    for (int j = 0; j < count; ++j) matmulShared(&products[j], 1, x, n);
    return;
  }
  runProducts(prepareInput(*products[0].w, x, n, activationCode(), activeIsa()), products, count);
}

void matmulGated(const QuantMatrix& gate, const QuantMatrix& up, const float* x, int64_t n, float* g, float* u,
                 GateCombine combine) {
  if (n <= 0) return;
  const int64_t rows = gate.rows;
  if (!readAlike(gate, up) || up.rows != rows) {
    matmul(gate, x, n, g);
    matmul(up, x, n, u);
    for (int64_t i = 0; i < n; ++i) combine(g + i * rows, u + i * rows, rows);
    return;
  }
  const PreparedInput p = prepareInput(gate, x, n, activationCode(), activeIsa());
  forRowBlocks(&rows, 1, 2 * rows * gate.cols * n, [&](const RowBlock& b) {
    p.rows_fn(gate, p.a, g, b.begin, b.end);
    p.rows_fn(up, p.a, u, b.begin, b.end);
    for (int64_t i = 0; i < n; ++i) combine(g + i * rows + b.begin, u + i * rows + b.begin, b.end - b.begin);
  });
}

bool int8MatmulRuns(const QuantMatrix& w, int64_t n) {
  if (w.type != WeightType::Q4 && w.type != WeightType::Q8) return false;
  if (n < 1 || n > detail::kMaxGemvRows || !detail::int8GroupsSupported(w)) return false;
  static const bool vnni = cpuHasAvx512Vnni();
  return vnni && activeIsa() == Isa::Avx512;
}

void matmulInt8(const QuantMatrix& w, const float* x, int64_t n, float* y, ActivationCode code) {
  if (n <= 0) return;
  const MatmulOutput product{&w, y};
  runProducts(prepareInput(w, x, n, code, activeIsa()), &product, 1);
}

void dequantizeRow(const QuantMatrix& w, int64_t row, float* out) { detail::dequantizeRowScalar(w, row, out); }

ActivationCode activationCode() { return activationCodeSlot().load(std::memory_order_relaxed); }

void setActivationCode(ActivationCode code) { activationCodeSlot().store(code, std::memory_order_relaxed); }

const char* activationCodeName(ActivationCode code) {
  switch (code) {
    case ActivationCode::Int8x2:
      return "int8x2";
    case ActivationCode::Int8:
      return "int8";
    case ActivationCode::Float:
      break;
  }
  return "float";
}

Isa activeIsa() { return activeIsaSlot().load(std::memory_order_relaxed); }

bool setKernelIsa(Isa isa) {
  if (!cpuSupports(isa)) return false;
  activeIsaSlot().store(isa, std::memory_order_relaxed);
  return true;
}

}  // namespace slmc::runtime

#include "lib/format/gguf/gguf_encode.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "lib/format/gguf/gguf_types.h"
#include "lib/model/dtype.h"
#include "lib/support/error.h"

namespace slmc::gguf {

namespace {

constexpr int64_t kQK = 32;  // QK4_0 = QK4_1 = QK5_0 = QK8_0
constexpr uint32_t kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ8_0 = 8;

// ggml's block layouts (ggml-common.h), spelled out so the bytes are readable from the code.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];  // element j in the low nibble of qs[j], element j + 16 in the high one
};
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[kQK / 2];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // bit j: the fifth bit of element j
  uint8_t qs[kQK / 2];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 && sizeof(BlockQ8_0) == 34,
              "ggml block sizes");

bool isHalf(float x) { return std::isfinite(x) && halfToFloat(floatToHalf(x)) == x; }

template <typename Block>
void append(std::string& out, const Block& b) {
  out.append(reinterpret_cast<const char*>(&b), sizeof b);
}

// One block of 32 offsets o = q - zero (already checked to fit) on the float16 scale `scale`.
void blockQ4_0(std::string& out, const int* o, float scale) {
  BlockQ4_0 b{};
  b.d = floatToHalf(scale);
  for (int j = 0; j < kQK / 2; ++j)
    b.qs[j] = static_cast<uint8_t>((o[j] + 8) | ((o[j + kQK / 2] + 8) << 4));
  append(out, b);
}
void blockQ4_1(std::string& out, const uint8_t* q, float scale, uint8_t zero) {
  BlockQ4_1 b{};
  b.d = floatToHalf(scale);
  b.m = floatToHalf(-static_cast<float>(zero) * scale);
  for (int j = 0; j < kQK / 2; ++j) b.qs[j] = static_cast<uint8_t>(q[j] | (q[j + kQK / 2] << 4));
  append(out, b);
}
void blockQ5_0(std::string& out, const int* o, float scale) {
  BlockQ5_0 b{};
  b.d = floatToHalf(scale);
  uint32_t qh = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    const unsigned x0 = static_cast<unsigned>(o[j] + 16), x1 = static_cast<unsigned>(o[j + kQK / 2] + 16);
    b.qs[j] = static_cast<uint8_t>((x0 & 0x0F) | ((x1 & 0x0F) << 4));
    qh |= ((x0 & 0x10u) >> 4) << j;
    qh |= ((x1 & 0x10u) >> 4) << (j + kQK / 2);
  }
  std::memcpy(b.qh, &qh, sizeof qh);
  append(out, b);
}
void blockQ8_0(std::string& out, const int* o, float scale) {
  BlockQ8_0 b{};
  b.d = floatToHalf(scale);
  for (int j = 0; j < kQK; ++j) b.qs[j] = static_cast<int8_t>(o[j]);
  append(out, b);
}

struct Candidate {
  uint32_t type;
  int lo, hi;  // the offsets q - zero the type holds (Q4_1: codes, checked separately)
};

}  // namespace

std::string quantizeQ8_0(const float* x, int64_t count) {
  std::string out;
  for (int64_t i = 0; i < count / kQK; ++i, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    BlockQ8_0 b{};
    b.d = floatToHalf(d);
    for (int j = 0; j < kQK; ++j) b.qs[j] = static_cast<int8_t>(std::roundf(x[j] * id));
    append(out, b);
  }
  return out;
}

std::string quantizeQ4_1(const float* x, int64_t count) {
  std::string out;
  for (int64_t i = 0; i < count / kQK; ++i, x += kQK) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < kQK; ++j) {
      min = std::min(min, x[j]);
      max = std::max(max, x[j]);
    }
    const float d = (max - min) / ((1 << 4) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    BlockQ4_1 b{};
    b.d = floatToHalf(d);
    b.m = floatToHalf(min);
    for (int j = 0; j < kQK / 2; ++j) {
      const uint8_t x0 = std::min<int8_t>(15, static_cast<int8_t>((x[j] - min) * id + 0.5f));
      const uint8_t x1 = std::min<int8_t>(15, static_cast<int8_t>((x[j + kQK / 2] - min) * id + 0.5f));
      b.qs[j] = static_cast<uint8_t>(x0 | (x1 << 4));
    }
    append(out, b);
  }
  return out;
}

GgmlEncoding encodeForGguf(const QuantizedTensor& q) {
  const int64_t rows = q.rows, cols = q.cols, gs = effectiveGroupSize(q.scheme, cols);
  const std::vector<float> reference = q.dequantize().toFloats();
  GgmlEncoding e;

  if (cols % kQK != 0) {
    e.type = kGgmlF32;
    e.bytes.assign(reinterpret_cast<const char*>(reference.data()), reference.size() * sizeof(float));
    e.exact = true;
    e.reason = "rows of " + std::to_string(cols) + " values fit no 32-value ggml block: stored as F32 (exact)";
    return e;
  }

  // What the grid needs from a block type.
  const bool blocks_in_groups = gs % kQK == 0;
  const bool scales_half = std::all_of(q.scales.begin(), q.scales.end(), isHalf);
  int lo = 0, hi = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const int o = static_cast<int>(q.codes[static_cast<size_t>(r * cols + c)]) - q.grid(r, c / gs).zero;
      lo = std::min(lo, o);
      hi = std::max(hi, o);
    }
  bool m_half = q.scheme.bits() <= 4;
  for (size_t i = 0; m_half && i < q.scales.size(); ++i) m_half = isHalf(-static_cast<float>(q.zeros[i]) * q.scales[i]);

  const Candidate candidates[] = {{kQ4_0, -8, 7}, {kQ4_1, 0, 0}, {kQ5_0, -16, 15}, {kQ8_0, -128, 127}};
  const Candidate* chosen = nullptr;
  if (blocks_in_groups && scales_half)
    for (const Candidate& c : candidates)
      if (c.type == kQ4_1 ? m_half : lo >= c.lo && hi <= c.hi) {
        chosen = &c;
        break;
      }

  if (chosen) {
    e.type = chosen->type;
    e.exact = true;
    std::vector<int> o(kQK);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < cols / kQK; ++b) {
        const GroupGrid g = q.grid(r, b * kQK / gs);
        const uint8_t* codes = q.codes.data() + r * cols + b * kQK;
        for (int j = 0; j < kQK; ++j) o[j] = static_cast<int>(codes[j]) - g.zero;
        switch (e.type) {
          case kQ4_0: blockQ4_0(e.bytes, o.data(), g.scale); break;
          case kQ4_1: blockQ4_1(e.bytes, codes, g.scale, g.zero); break;
          case kQ5_0: blockQ5_0(e.bytes, o.data(), g.scale); break;
          default: blockQ8_0(e.bytes, o.data(), g.scale); break;
        }
      }
    e.reason = std::string(ggmlType(e.type).name) + " holds " + schemeName(q.scheme) + "'s grid exactly";
  } else {
    e.type = q.scheme.bits() <= 4 ? kQ4_1 : kQ8_0;
    e.bytes = e.type == kQ4_1 ? quantizeQ4_1(reference.data(), rows * cols) : quantizeQ8_0(reference.data(), rows * cols);
    e.reason = std::string("no ggml type holds ") + schemeName(q.scheme) + "'s grid (" +
               (!blocks_in_groups ? "groups of " + std::to_string(gs) + " split 32-value blocks"
                : !scales_half   ? std::string("scales are not float16")
                                 : "offsets q - zero span " + std::to_string(lo) + ".." + std::to_string(hi)) +
               "): re-encoded as " + ggmlType(e.type).name;
  }

  // Read back through the GGUF reader's dequantizer: the figures are what llama.cpp would see.
  std::vector<float> back(reference.size());
  ggmlType(e.type).to_float(reinterpret_cast<const std::byte*>(e.bytes.data()), back.data(), rows * cols);
  double max_err = 0, sum_sq = 0;
  bool bit_equal = true;
  for (size_t i = 0; i < back.size(); ++i) {
    const double d = std::fabs(static_cast<double>(back[i]) - reference[i]);
    max_err = std::max(max_err, d);
    sum_sq += d * d;
    bit_equal = bit_equal && std::memcmp(&back[i], &reference[i], sizeof(float)) == 0;
  }
  if (e.exact)
    require(bit_equal, "internal: the " + std::string(ggmlType(e.type).name) + " encoding of a " +
                           schemeName(q.scheme) + " tensor does not read back bit for bit");
  e.max_abs_error = max_err;
  e.rms_error = back.empty() ? 0 : std::sqrt(sum_sq / static_cast<double>(back.size()));
  return e;
}

}  // namespace slmc::gguf

#include "lib/format/gguf/gguf_dequantize.h"

#include <cstring>

#include "lib/format/gguf/gguf_file.h"
#include "lib/format/gguf/gguf_types.h"
#include "lib/model/dtype.h"
#include "lib/support/error.h"

// The build compiles ISO C++ (-std=c++17, no GNU extensions), where GCC and clang do not fuse
// `a * b + c` into an FMA: each product is rounded as in ggml's reference C code.

namespace slmc::gguf {

namespace {

// Block layouts, byte for byte as ggml-common.h's block_* structs (QK_K = 256).
constexpr int64_t kQK = 32;
constexpr int64_t kQK_K = 256;
constexpr size_t kQ8_0Bytes = 2 + 32;                 // d, qs[32]
constexpr size_t kQ4_0Bytes = 2 + 16;                 // d, qs[16]
constexpr size_t kQ4_1Bytes = 2 + 2 + 16;             // d, m, qs[16]
constexpr size_t kQ5_0Bytes = 2 + 4 + 16;             // d, qh[4], qs[16]
constexpr size_t kQ5_1Bytes = 2 + 2 + 4 + 16;         // d, m, qh[4], qs[16]
constexpr size_t kQ2_KBytes = 16 + 64 + 2 + 2;        // scales[16], qs[64], d, dmin
constexpr size_t kQ3_KBytes = 32 + 64 + 12 + 2;       // hmask[32], qs[64], scales[12], d
constexpr size_t kQ4_KBytes = 2 + 2 + 12 + 128;       // d, dmin, scales[12], qs[128]
constexpr size_t kQ5_KBytes = 2 + 2 + 12 + 32 + 128;  // d, dmin, scales[12], qh[32], qs[128]
constexpr size_t kQ6_KBytes = 128 + 64 + 16 + 2;      // ql[128], qh[64], scales[16], d

inline const uint8_t* u8(const std::byte* p) { return reinterpret_cast<const uint8_t*>(p); }
inline float half(const std::byte* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return halfToFloat(h);
}
inline uint32_t u32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The 6-bit scale and minimum of sub-block j in Q4_K / Q5_K's 12 packed bytes (get_scale_min_k4).
inline void scaleMinK4(int j, const uint8_t* q, uint8_t& d, uint8_t& m) {
  if (j < 4) {
    d = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

}  // namespace

void dequantizeF32(const std::byte* src, float* dst, int64_t count) {
  std::memcpy(dst, src, static_cast<size_t>(count) * 4);
}

void dequantizeF16(const std::byte* src, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i) dst[i] = half(src + 2 * i);
}

void dequantizeBF16(const std::byte* src, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    uint16_t b;
    std::memcpy(&b, src + 2 * i, 2);
    dst[i] = bf16ToFloat(b);
  }
}

void dequantizeQ8_0(const std::byte* src, float* dst, int64_t count) {
  for (int64_t b = 0; b < count / kQK; ++b, src += kQ8_0Bytes, dst += kQK) {
    const float d = half(src);
    const auto* qs = reinterpret_cast<const int8_t*>(src + 2);
    for (int j = 0; j < kQK; ++j) dst[j] = qs[j] * d;
  }
}

void dequantizeQ4_0(const std::byte* src, float* dst, int64_t count) {
  for (int64_t b = 0; b < count / kQK; ++b, src += kQ4_0Bytes, dst += kQK) {
    const float d = half(src);
    const uint8_t* qs = u8(src + 2);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = ((qs[j] & 0x0F) - 8) * d;
      dst[j + kQK / 2] = ((qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantizeQ4_1(const std::byte* src, float* dst, int64_t count) {
  for (int64_t b = 0; b < count / kQK; ++b, src += kQ4_1Bytes, dst += kQK) {
    const float d = half(src), m = half(src + 2);
    const uint8_t* qs = u8(src + 4);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = (qs[j] & 0x0F) * d + m;
      dst[j + kQK / 2] = (qs[j] >> 4) * d + m;
    }
  }
}

void dequantizeQ5_0(const std::byte* src, float* dst, int64_t count) {
  for (int64_t b = 0; b < count / kQK; ++b, src += kQ5_0Bytes, dst += kQK) {
    const float d = half(src);
    const uint32_t qh = u32(src + 2);
    const uint8_t* qs = u8(src + 6);
    for (int j = 0; j < kQK / 2; ++j) {
      const uint8_t h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
      dst[j] = (((qs[j] & 0x0F) | h0) - 16) * d;
      dst[j + kQK / 2] = (((qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void dequantizeQ5_1(const std::byte* src, float* dst, int64_t count) {
  for (int64_t b = 0; b < count / kQK; ++b, src += kQ5_1Bytes, dst += kQK) {
    const float d = half(src), m = half(src + 2);
    const uint32_t qh = u32(src + 4);
    const uint8_t* qs = u8(src + 8);
    for (int j = 0; j < kQK / 2; ++j) {
      const uint8_t h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
      dst[j] = ((qs[j] & 0x0F) | h0) * d + m;
      dst[j + kQK / 2] = ((qs[j] >> 4) | h1) * d + m;
    }
  }
}

void dequantizeQ2_K(const std::byte* src, float* dst, int64_t count) {
  for (int64_t b = 0; b < count / kQK_K; ++b, src += kQ2_KBytes) {
    const uint8_t* scales = u8(src);
    const uint8_t* q = u8(src + 16);
    const float d = half(src + 80), min = half(src + 82);
    int is = 0;
    for (int n = 0; n < kQK_K; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half_ = 0; half_ < 2; ++half_) {  // two 16-value sub-blocks per shift
          const uint8_t sc = scales[is++];
          const float dl = d * (sc & 0xF), ml = min * (sc >> 4);
          const uint8_t* qq = q + 16 * half_;
          for (int l = 0; l < 16; ++l) *dst++ = dl * static_cast<int8_t>((qq[l] >> shift) & 3) - ml;
        }
      }
    }
  }
}

void dequantizeQ3_K(const std::byte* src, float* dst, int64_t count) {
  constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  for (int64_t b = 0; b < count / kQK_K; ++b, src += kQ3_KBytes) {
    const uint8_t* hm = u8(src);
    const uint8_t* q = u8(src + 32);
    const float d_all = half(src + 108);
    // The 16 6-bit scales, unpacked from 12 bytes as ggml does (low nibbles, then 2 high bits).
    uint32_t aux[4];
    std::memcpy(aux, src + 96, 12);
    const uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
    int8_t scales[16];
    std::memcpy(scales, aux, 16);
    int is = 0;
    uint8_t m = 1;
    for (int n = 0; n < kQK_K; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
        for (int half_ = 0; half_ < 2; ++half_) {
          const float dl = d_all * (scales[is++] - 32);
          const uint8_t* qq = q + 16 * half_;
          const uint8_t* hh = hm + 16 * half_;
          for (int l = 0; l < 16; ++l)
            *dst++ = dl * (static_cast<int8_t>((qq[l] >> shift) & 3) - ((hh[l] & m) ? 0 : 4));
        }
      }
    }
  }
}

void dequantizeQ4_K(const std::byte* src, float* dst, int64_t count) {
  for (int64_t b = 0; b < count / kQK_K; ++b, src += kQ4_KBytes) {
    const float d = half(src), min = half(src + 2);
    const uint8_t* scales = u8(src + 4);
    const uint8_t* q = u8(src + 16);
    for (int is = 0; is < 8; is += 2, q += 32) {
      uint8_t sc, m;
      scaleMinK4(is, scales, sc, m);
      const float d1 = d * sc, m1 = min * m;
      scaleMinK4(is + 1, scales, sc, m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *dst++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

void dequantizeQ5_K(const std::byte* src, float* dst, int64_t count) {
  for (int64_t b = 0; b < count / kQK_K; ++b, src += kQ5_KBytes) {
    const float d = half(src), min = half(src + 2);
    const uint8_t* scales = u8(src + 4);
    const uint8_t* qh = u8(src + 16);
    const uint8_t* ql = u8(src + 48);
    uint8_t u1 = 1, u2 = 2;
    for (int is = 0; is < 8; is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
      uint8_t sc, m;
      scaleMinK4(is, scales, sc, m);
      const float d1 = d * sc, m1 = min * m;
      scaleMinK4(is + 1, scales, sc, m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *dst++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    }
  }
}

void dequantizeQ6_K(const std::byte* src, float* dst, int64_t count) {
  for (int64_t b = 0; b < count / kQK_K; ++b, src += kQ6_KBytes) {
    const uint8_t* ql = u8(src);
    const uint8_t* qh = u8(src + 128);
    const auto* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float d = half(src + 208);
    for (int n = 0; n < kQK_K; n += 128, dst += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int8_t q1 = static_cast<int8_t>((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int8_t q2 = static_cast<int8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int8_t q3 = static_cast<int8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int8_t q4 = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        dst[l] = d * sc[is] * q1;
        dst[l + 32] = d * sc[is + 2] * q2;
        dst[l + 64] = d * sc[is + 4] * q3;
        dst[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

std::vector<float> dequantizeTensor(const TensorInfo& t) {
  const GgmlTypeTraits& type = ggmlType(t.type);
  require(type.to_float != nullptr, "tensor '" + t.name + "' has type " + type.name +
                                        ", which slmc cannot read; supported: " + supportedGgmlTypeNames() +
                                        " (re-quantize the model to one of them)");
  std::vector<float> out(static_cast<size_t>(t.numel()));
  type.to_float(t.data, out.data(), t.numel());
  return out;
}

}  // namespace slmc::gguf

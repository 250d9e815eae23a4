// Dequantization of ggml tensor data to float32, bit-exact with ggml's dequantize_row_*
// (ggml-quants.c): the same float16 conversion and the same float operations in the same order,
// so a model read here holds exactly the weights llama.cpp computes with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace slmc::gguf {

struct TensorInfo;

// One function per type; `count` is a multiple of the type's block size. The source needs no
// alignment (fields are read byte-wise), so these run on any mapped or fuzzed buffer.
void dequantizeF32(const std::byte* src, float* dst, int64_t count);
void dequantizeF16(const std::byte* src, float* dst, int64_t count);
void dequantizeBF16(const std::byte* src, float* dst, int64_t count);
void dequantizeQ8_0(const std::byte* src, float* dst, int64_t count);
void dequantizeQ4_0(const std::byte* src, float* dst, int64_t count);
void dequantizeQ4_1(const std::byte* src, float* dst, int64_t count);
void dequantizeQ5_0(const std::byte* src, float* dst, int64_t count);
void dequantizeQ5_1(const std::byte* src, float* dst, int64_t count);
void dequantizeQ2_K(const std::byte* src, float* dst, int64_t count);
void dequantizeQ3_K(const std::byte* src, float* dst, int64_t count);
void dequantizeQ4_K(const std::byte* src, float* dst, int64_t count);
void dequantizeQ5_K(const std::byte* src, float* dst, int64_t count);
void dequantizeQ6_K(const std::byte* src, float* dst, int64_t count);

// Every value of a tensor as float32, in file order (ne[0] fastest). Throws Error naming the
// tensor and the supported types when slmc cannot read its type.
std::vector<float> dequantizeTensor(const TensorInfo& tensor);

}  // namespace slmc::gguf

#include "lib/format/gguf/gguf_types.h"

#include "lib/format/gguf/gguf_dequantize.h"
#include "lib/support/error.h"

namespace slmc::gguf {

namespace {

// Ids, names and sizes as ggml.c's type_traits[] (and the gguf package's GGML_QUANT_SIZES);
// ids 4, 5, 31-33 and 36-38 were removed from ggml and are unknown here, as there.
constexpr GgmlTypeTraits kTypes[] = {
    {0, "F32", 1, 4, dequantizeF32},
    {1, "F16", 1, 2, dequantizeF16},
    {2, "Q4_0", 32, 18, dequantizeQ4_0},
    {3, "Q4_1", 32, 20, dequantizeQ4_1},
    {6, "Q5_0", 32, 22, dequantizeQ5_0},
    {7, "Q5_1", 32, 24, dequantizeQ5_1},
    {8, "Q8_0", 32, 34, dequantizeQ8_0},
    {9, "Q8_1", 32, 40, nullptr},
    {10, "Q2_K", 256, 84, dequantizeQ2_K},
    {11, "Q3_K", 256, 110, dequantizeQ3_K},
    {12, "Q4_K", 256, 144, dequantizeQ4_K},
    {13, "Q5_K", 256, 176, dequantizeQ5_K},
    {14, "Q6_K", 256, 210, dequantizeQ6_K},
    {15, "Q8_K", 256, 292, nullptr},
    {16, "IQ2_XXS", 256, 66, nullptr},
    {17, "IQ2_XS", 256, 74, nullptr},
    {18, "IQ3_XXS", 256, 98, nullptr},
    {19, "IQ1_S", 256, 50, nullptr},
    {20, "IQ4_NL", 32, 18, nullptr},
    {21, "IQ3_S", 256, 110, nullptr},
    {22, "IQ2_S", 256, 82, nullptr},
    {23, "IQ4_XS", 256, 136, nullptr},
    {24, "I8", 1, 1, nullptr},
    {25, "I16", 1, 2, nullptr},
    {26, "I32", 1, 4, nullptr},
    {27, "I64", 1, 8, nullptr},
    {28, "F64", 1, 8, nullptr},
    {29, "IQ1_M", 256, 56, nullptr},
    {30, "BF16", 1, 2, dequantizeBF16},
    {34, "TQ1_0", 256, 54, nullptr},
    {35, "TQ2_0", 256, 66, nullptr},
    {39, "MXFP4", 32, 17, nullptr},
    {40, "NVFP4", 64, 36, nullptr},
    {41, "Q1_0", 128, 18, nullptr},
};

}  // namespace

const GgmlTypeTraits* findGgmlType(uint32_t id) {
  for (const auto& t : kTypes)
    if (t.id == id) return &t;
  return nullptr;
}

const GgmlTypeTraits& ggmlType(uint32_t id) {
  const GgmlTypeTraits* t = findGgmlType(id);
  require(t != nullptr, "unknown ggml tensor type " + std::to_string(id));
  return *t;
}

std::string supportedGgmlTypeNames() {
  std::string names;
  for (const auto& t : kTypes)
    if (t.to_float) names += (names.empty() ? "" : ", ") + std::string(t.name);
  return names;
}

}  // namespace slmc::gguf

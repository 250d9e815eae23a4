// The dtype each float tensor is written at, for every command that writes an artifact (export to
// a pack or a Hugging Face directory, quantize, prune, compress). `--float-dtype f32|f16|bf16`
// (recipe key `float_dtype`) converts every tensor the command keeps float, rounding to nearest
// even. Without it, each tensor keeps the dtype it was loaded as, so a bfloat16 checkpoint stays
// bfloat16 and a float16 one float16, with one exception: GGUF tensors stored in a quantized
// type (Q8_0, Q4_1, ...) are exact float32 in memory but written as bfloat16, because float32
// would double their size for precision the quantized source never had (README gives the error
// on SmolLM2). Quantized weights (Model::quantized) are never touched.
#pragma once

#include <optional>
#include <string>

#include "lib/model/dtype.h"
#include "lib/model/model.h"

namespace slmc {

// "f32", "f16" or "bf16" as the dtype; throws Error naming `what` and the choices otherwise.
DType parseFloatDType(const std::string& text, const std::string& what = "--float-dtype");

// `model` with every float tensor that is not a quantized weight at its written dtype: what the
// writers store (they keep each tensor's dtype as it is).
Model withWrittenFloatDTypes(const Model& model, std::optional<DType> chosen);

}  // namespace slmc

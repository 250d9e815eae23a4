// The loss sensitivity of each weight, for placing bits: the diagonal of the empirical Fisher
// information F_w = Σ_s (∂L_s/∂w)² over calibration sequences s, L_s the next-token cross-entropy
// of sequence s under the float model (SqueezeLLM's sensitivity). To second order, quantizing w
// by Δw raises the loss by ½ Σ F_w Δw², a figure that is comparable across tensors of different
// kinds and depths — which the per-linear output error Σ E[x²]·Δw² is not: measured on
// stories260K it under-weighs v_proj / o_proj, whose errors enter the residual stream directly.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lib/model/model.h"

namespace slmc {

// F of every weight in `names` ([rows, cols] row-major floats), one backward pass per sequence
// of `ids` ([num_samples, seq_len]); the model must hold float weights. bf16: the forward under
// bfloat16 autocast (bf16_autocast_torch.h), the gradients and their squares in float32.
// Memory: the model's own weights (viewed, not copied), F, and one sequence's activations with
// each layer recomputed in the backward (recomputedLayer); each weight's gradient is squared into
// F as the backward produces it and never stored (no .grad): SmolLM2's q4 budget quantize peaks
// at 2.23 GB, 3.86 GB before (a copy of the weights, every .grad, F copied out, every layer's
// activations kept), and the pass is no slower (15 s for 8 × 512 tokens, was 17.8 s).
std::map<std::string, std::vector<float>> weightFisher(const Model& model, const std::vector<std::string>& names,
                                                       const std::vector<int32_t>& ids, int64_t num_samples,
                                                       int64_t seq_len, bool bf16 = false);

}  // namespace slmc

// What `slmc inspect` shows: the architecture, parameter counts by kind and bytes by dtype.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "lib/model/model.h"

namespace slmc {

enum class ParamKind { Embedding, Attention, Mlp, Norm, Head };
const char* paramKindName(ParamKind kind);
// Classifies a canonical tensor name (embeddings, self_attn.*, mlp.*, norms, lm_head).
ParamKind classifyTensor(const std::string& name);

struct ModelSummary {
  std::map<std::string, int64_t> params_by_kind;  // kind name → parameters
  std::map<std::string, int64_t> bytes_by_dtype;  // dtype name → bytes
  int64_t total_params = 0;
  int64_t total_bytes = 0;
};

ModelSummary summarize(const Model& model);
// JSON object (schema_version 1): config, summary, and per-tensor rows when `with_tensors`.
std::string summaryJson(const Model& model, const ModelSummary& summary, bool with_tensors);
std::string summaryText(const Model& model, const ModelSummary& summary, bool with_tensors);

}  // namespace slmc

// Statistics of the inputs of a layer's linear projections, gathered on calibration data. A
// "site" is one input shared by several linears: Llama-family layers have four
//   attn_in  (q_proj, k_proj, v_proj: the input norm's output)
//   attn_out (o_proj: the attention output)
//   mlp_in   (gate_proj, up_proj: the post-attention norm's output)
//   mlp_out  (down_proj: the MLP activation)
// GPT-2 the same without gate_proj. Everything the quantizers need derives from these:
// GPTQ/SparseGPT's Hessian 2/n·XᵀX, AWQ's mean |x| per channel and its output error
// tr(E·XᵀX·Eᵀ), SmoothQuant's per-channel max |x|, and observers over sampled rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace slmc {

struct ModelConfig;

struct SiteStats {
  std::string site;                  // "attn_in", "attn_out", "mlp_in", "mlp_out"
  std::vector<std::string> linears;  // full weight names that read this input
  int64_t channels = 0;              // in_features
  int64_t tokens = 0;                // rows accumulated
  std::vector<float> xtx;            // [channels, channels]: sum over tokens of x·xᵀ
  std::vector<float> abs_max;        // [channels]: max |x|
  std::vector<float> abs_sum;        // [channels]: sum |x| (mean = abs_sum / tokens)
  int64_t sample_rows = 0;           // rows kept in `sample`
  std::vector<float> sample;         // [sample_rows, channels]: token rows kept for observers

  // 2/n·XᵀX as GPTQ defines it (float64 for the factorizations that follow).
  std::vector<double> hessian() const;
};

struct LayerStats {
  int64_t layer = 0;
  std::vector<SiteStats> sites;
  const SiteStats& site(const std::string& name) const;      // throws Error when absent
  const SiteStats* siteOf(const std::string& linear) const;  // the site a weight reads, or null
};

// The sites of layer `layer` with their linear weight names, for a model family.
struct SiteSpec {
  std::string site;
  std::vector<std::string> linears;
};
std::vector<SiteSpec> layerSites(const ModelConfig& config, int64_t layer);

}  // namespace slmc

#include "lib/reference/activation_stats.h"

#include <algorithm>

#include "lib/model/model.h"
#include "lib/support/error.h"

namespace slmc {

std::vector<double> SiteStats::hessian() const {
  require(tokens > 0, "site " + site + " has no calibration tokens (collect statistics before asking for a Hessian)");
  require(static_cast<int64_t>(xtx.size()) == channels * channels,
          "site " + site + ": XᵀX holds " + std::to_string(xtx.size()) + " values for " + std::to_string(channels) +
              " channels (statistics are corrupt; collect them again)");
  const double k = 2.0 / static_cast<double>(tokens);
  std::vector<double> h(xtx.size());
  std::transform(xtx.begin(), xtx.end(), h.begin(), [k](float v) { return k * static_cast<double>(v); });
  return h;
}

const SiteStats& LayerStats::site(const std::string& name) const {
  for (const SiteStats& s : sites)
    if (s.site == name) return s;
  throw Error("layer " + std::to_string(layer) + " has no site '" + name +
              "' (sites are attn_in, attn_out, mlp_in, mlp_out)");
}

const SiteStats* LayerStats::siteOf(const std::string& linear) const {
  for (const SiteStats& s : sites)
    if (std::find(s.linears.begin(), s.linears.end(), linear) != s.linears.end()) return &s;
  return nullptr;
}

std::vector<SiteSpec> layerSites(const ModelConfig& config, int64_t layer) {
  const auto w = [layer](const char* rest) { return names::layer(layer, std::string(rest) + ".weight"); };
  std::vector<std::string> mlp_in;
  if (config.gatedMlp()) mlp_in.push_back(w("mlp.gate_proj"));
  mlp_in.push_back(w("mlp.up_proj"));
  return {{"attn_in", {w("self_attn.q_proj"), w("self_attn.k_proj"), w("self_attn.v_proj")}},
          {"attn_out", {w("self_attn.o_proj")}},
          {"mlp_in", mlp_in},
          {"mlp_out", {w("mlp.down_proj")}}};
}

}  // namespace slmc

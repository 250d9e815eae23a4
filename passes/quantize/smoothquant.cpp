#include "passes/quantize/smoothquant.h"

#include <algorithm>
#include <cmath>

#include "lib/support/error.h"

namespace slmc {

std::vector<float> smoothQuantScales(const std::vector<float>& act_abs_max, const std::vector<LinearRef>& weights,
                                     int64_t cols, double alpha) {
  require(alpha >= 0 && alpha <= 1,
          "SmoothQuant: alpha " + std::to_string(alpha) + " is out of range (use a value in [0, 1]; 0.5 is usual)");
  require(cols > 0 && static_cast<int64_t>(act_abs_max.size()) == cols,
          "SmoothQuant: " + std::to_string(act_abs_max.size()) + " activation maxima for " + std::to_string(cols) +
              " input channels (the statistics do not match the layer)");
  require(!weights.empty(), "SmoothQuant: no linear layers read this input");
  std::vector<float> w_max(static_cast<size_t>(cols), 0.0f);
  for (const LinearRef& l : weights) {
    require(l.w != nullptr && l.rows > 0, "SmoothQuant: a linear weight is empty");
    for (int64_t r = 0; r < l.rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        w_max[static_cast<size_t>(c)] = std::max(w_max[static_cast<size_t>(c)], std::fabs(l.w[r * cols + c]));
  }
  std::vector<float> s(static_cast<size_t>(cols), 1.0f);
  for (size_t j = 0; j < s.size(); ++j) {
    const double a = act_abs_max[j], w = w_max[j];
    require(std::isfinite(a) && std::isfinite(w),
            "SmoothQuant: input channel " + std::to_string(j) + " has a NaN or infinite activation or weight");
    if (a > 0 && w > 0) s[j] = static_cast<float>(std::max(std::pow(a, alpha) / std::pow(w, 1.0 - alpha), 1e-5));
  }
  return s;
}

}  // namespace slmc

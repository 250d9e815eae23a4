// attendHead (runtime/attention.h) on every path against a double-precision softmax attention,
// for head sizes that fill the vectors, that do not (a narrower path or the scalar one takes
// over), and cache rows wider than one head (the stride of a KV cache row).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "runtime/attention.h"
#include "runtime/kernels.h"

namespace rt = slmc::runtime;

namespace {

// out = Σ_t softmax(scale q·k_t) v_t in double.
std::vector<double> referenceAttention(const std::vector<float>& q, const std::vector<float>& keys,
                                       const std::vector<float>& values, int64_t stride, int64_t visible,
                                       int64_t hd, double scale) {
  std::vector<double> scores(static_cast<size_t>(visible));
  double max_score = -INFINITY;
  for (int64_t t = 0; t < visible; ++t) {
    double dot = 0;
    for (int64_t d = 0; d < hd; ++d) dot += static_cast<double>(q[d]) * keys[t * stride + d];
    scores[t] = dot * scale;
    max_score = std::max(max_score, scores[t]);
  }
  double sum = 0;
  for (double& s : scores) sum += s = std::exp(s - max_score);
  std::vector<double> out(static_cast<size_t>(hd), 0.0);
  for (int64_t t = 0; t < visible; ++t)
    for (int64_t d = 0; d < hd; ++d) out[d] += scores[t] / sum * values[t * stride + d];
  return out;
}

}  // namespace

TEST_CASE("runtime: attendHead on every path equals a double-precision attention") {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<rt::Isa> isas = {rt::Isa::Scalar};
  for (rt::Isa isa : {rt::Isa::Avx2, rt::Isa::Avx512})
    if (rt::cpuSupports(isa)) isas.push_back(isa);
  double worst = 0;
  for (int64_t hd : {8, 12, 16, 48, 64, 128})
    for (int64_t visible : {1, 2, 3, 4, 5, 17, 64, 129}) {
      // A cache row holds several heads (stride > hd); this head starts inside the row.
      const int64_t stride = 3 * hd + 4, offset = hd + 2;
      std::vector<float> q(static_cast<size_t>(hd)), keys(static_cast<size_t>(visible * stride)),
          values(static_cast<size_t>(visible * stride));
      for (float& v : q) v = 2.0f * normal(rng);  // peaked enough that the softmax matters
      for (float& v : keys) v = normal(rng);
      for (float& v : values) v = normal(rng);
      const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
      std::vector<float> head_keys(keys.begin() + offset, keys.end()), head_values(values.begin() + offset, values.end());
      head_keys.resize(keys.size());
      head_values.resize(values.size());
      const std::vector<double> want =
          referenceAttention(q, head_keys, head_values, stride, visible, hd, scale);
      for (rt::Isa isa : isas) {
        INFO("path " << rt::isaName(isa) << ", head_dim " << hd << ", visible " << visible);
        std::vector<float> scores(static_cast<size_t>(visible), std::nanf("")), out(static_cast<size_t>(hd), std::nanf(""));
        rt::attendHead(q.data(), keys.data() + offset, values.data() + offset, stride, visible, hd,
                       static_cast<float>(scale), scores.data(), out.data(), isa);
        for (int64_t d = 0; d < hd; ++d) {
          const double err = std::fabs(out[d] - want[d]);
          CHECK(err <= 1e-5);  // outputs are convex combinations of N(0, 1) values
          if (!(err <= worst)) worst = err;
        }
      }
    }
  MESSAGE("attendHead: worst |difference| from the double-precision attention " << worst);
}

TEST_CASE("runtime: the SIMD softmax exp stays within a few ulp of std::exp and sums what it writes") {
  // Shifted scores from 0 down to -100 (below ln FLT_MIN ≈ -87.3 the weight is nil), and every
  // count from 1 to 40 so that each vector width's tail is taken.
  std::vector<std::pair<const char*, float (*)(float*, int64_t, float)>> paths;
  if (rt::cpuSupports(rt::Isa::Avx2)) paths.push_back({"avx2", rt::detail::attentionExpAvx2});
  if (rt::cpuSupports(rt::Isa::Avx512)) paths.push_back({"avx512", rt::detail::attentionExpAvx512});
  for (const auto& [name, exp_fn] : paths) {
    INFO("path " << std::string(name));
    double worst = 0;
    for (int64_t count = 1; count <= 40; ++count) {
      std::vector<float> scores(static_cast<size_t>(count)), want(scores.size());
      for (int64_t t = 0; t < count; ++t) scores[t] = 1.5f - 101.5f * static_cast<float>(t) / 40.0f;  // max 1.5
      double want_sum = 0;
      for (int64_t t = 0; t < count; ++t) want_sum += want[t] = std::exp(scores[t] - 1.5f);
      const float sum = exp_fn(scores.data(), count, 1.5f);
      double got_sum = 0;
      for (int64_t t = 0; t < count; ++t) {
        got_sum += scores[t];
        if (want[t] < 1.2e-38f) {
          CHECK(scores[t] <= 1.2e-38f);  // nil either way
          continue;
        }
        const double rel = std::fabs(scores[t] - want[t]) / want[t];
        CHECK(rel <= 4e-7);
        worst = std::max(worst, rel);
      }
      CHECK(std::fabs(sum - got_sum) <= 1e-6 * got_sum);
      CHECK(std::fabs(sum - want_sum) <= 1e-6 * want_sum);
    }
    MESSAGE(std::string(name) << " exp: worst relative difference from std::exp " << worst);
  }
}

// Pruning figures on whole models (printed, never asserted):
//  1. quality on the real stories260K: perplexity vs float, top-1 agreement and KL of magnitude,
//     Wanda and SparseGPT at 20/30/50% unstructured and 2:4, SparseGPT 2:4 + GPTQ int8/int4, and
//     structured pruning (heads, MLP channels, layers) with the parameters left; calibrated on
//     128 x 256 tokens the model sampled itself (seed 1), evaluated on 32 x 256 others (seed 2);
//  2. time and peak memory of magnitude / Wanda / SparseGPT at 50% on a model shaped like
//     llama2.c's stories15M (random weights and ids: timing does not depend on the values).
//
//   bench_prune_model [--threads N] [--skip-quality] [--skip-timing]
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_models.h"
#include "lib/format/checkpoint.h"
#include "lib/model/model_size.h"
#include "lib/reference/model_comparison.h"
#include "lib/reference/reference_model.h"
#include "lib/support/memory_usage.h"
#include "passes/prune/prune_model.h"
#include "passes/prune/structured_prune.h"
#include "passes/quantize/quantize_model.h"
#include "tests/sampled_ids.h"

using namespace slmc;

namespace {


double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Setting {
  const char* label;
  PruneMethod method;
  double sparsity;
  const char* nm = "";
  int quant_bits = 0;  // then GPTQ g32 at these bits (0: none)
};

struct Shrink {
  const char* label;
  StructuredPruneOptions options;
};

void quality() {
  const Model base = loadModel(bench::modelsDir() + "/stories260K/stories260K.bin");
  const int64_t n = 128, len = 256;
  const std::vector<int32_t> calib = test::sampledFromBos(base, n, len, 1), eval = test::sampledFromBos(base, 32, len, 2);
  const ReferenceModel ref(base);
  ComparisonOptions c;
  c.ctx = len;
  std::printf("stories260K: calibration %lld x %lld self-sampled tokens, evaluation 32 x 256 (other seed)\n",
              static_cast<long long>(n), static_cast<long long>(len));
  std::printf("%-34s %10s %10s %8s %9s %10s %7s\n", "setting", "ppl", "increase", "top-1", "mean KL", "params", "sec");
  const auto row = [&](const char* label, const Model& m, double sec) {
    const ReferenceModel cand(m);
    const ComparisonResult r = compareModels(ref, cand, eval, c);
    const ModelSize size = modelSize(m);
    std::printf("%-34s %10.3f %+9.1f%% %7.2f%% %9.5f %10lld %7.2f\n", label, r.candidate_perplexity,
                100.0 * (r.candidate_perplexity / r.base_perplexity - 1), 100.0 * r.top1_agreement, r.mean_kl,
                static_cast<long long>(size.nonzero_parameters), sec);
  };
  row("(float32)", base, 0);
  const Setting settings[] = {
      {"magnitude 20%", PruneMethod::Magnitude, 0.2}, {"wanda     20%", PruneMethod::Wanda, 0.2},
      {"sparsegpt 20%", PruneMethod::SparseGpt, 0.2}, {"magnitude 30%", PruneMethod::Magnitude, 0.3},
      {"wanda     30%", PruneMethod::Wanda, 0.3},     {"sparsegpt 30%", PruneMethod::SparseGpt, 0.3},
      {"magnitude 50%", PruneMethod::Magnitude, 0.5}, {"wanda     50%", PruneMethod::Wanda, 0.5},
      {"sparsegpt 50%", PruneMethod::SparseGpt, 0.5}, {"magnitude 2:4", PruneMethod::Magnitude, 0, "2:4"},
      {"wanda     2:4", PruneMethod::Wanda, 0, "2:4"}, {"sparsegpt 2:4", PruneMethod::SparseGpt, 0, "2:4"},
      {"sparsegpt 2:4 + gptq int8 g32", PruneMethod::SparseGpt, 0, "2:4", 8},
      {"sparsegpt 30% + gptq int4 g32", PruneMethod::SparseGpt, 0.3, "", 4},
  };
  for (const Setting& s : settings) {
    PruneOptions o;
    o.method = s.method;
    if (*s.nm) o.target = parseNM(s.nm);
    else o.target.sparsity = s.sparsity;
    Model m = base;
    const auto t0 = std::chrono::steady_clock::now();
    pruneModel(m, o, calib, n, len, LayerwiseCalibrationOptions{});
    if (s.quant_bits) {
      QuantizeOptions q;
      q.method = QuantMethod::Gptq;
      q.scheme = {s.quant_bits, 32, true};
      quantizeModel(m, q, calib, n, len, LayerwiseCalibrationOptions{});
    }
    row(s.label, m, secondsSince(t0));
  }
  const Shrink shrinks[] = {
      {"structured heads 25% (1 KV group)", {0.25, 0, 0}},
      {"structured ffn 25%", {0, 0.25, 0}},
      {"structured 1 layer", {0, 0, 1}},
      {"structured heads 25% ffn 25% 1 layer", {0.25, 0.25, 1}},
  };
  for (const Shrink& s : shrinks) {
    Model m = base;
    const auto t0 = std::chrono::steady_clock::now();
    structuredPrune(m, s.options, calib, n, len, LayerwiseOptions{});
    row(s.label, m, secondsSince(t0));
  }
}

void timing() {
  const Model base = bench::stories15MShaped();
  const int64_t params = bench::parameterCount(base);
  const int64_t n = 128, len = 256;
  const std::vector<int32_t> ids = bench::randomIds(n, len, base.config.vocab_size);
  std::printf("\nstories15M-shaped model (%.1fM parameters, random weights), %lld x %lld calibration tokens, 50%%\n",
              static_cast<double>(params) / 1e6, static_cast<long long>(n), static_cast<long long>(len));
  std::printf("%-12s %8s %10s %11s %14s\n", "method", "total s", "collect s", "transform s", "peak RSS MiB");
  for (PruneMethod method : {PruneMethod::Magnitude, PruneMethod::Wanda, PruneMethod::SparseGpt}) {
    PruneOptions o;
    o.method = method;
    o.target.sparsity = 0.5;
    Model m = base;
    const auto t0 = std::chrono::steady_clock::now();
    const PruneOutcome out = pruneModel(m, o, ids, n, len, LayerwiseCalibrationOptions{});
    const nlohmann::json cal = out.figures.value("calibration", nlohmann::json::object());
    std::printf("%-12s %8.2f %10.2f %11.2f %14.0f\n", pruneMethodName(method), secondsSince(t0),
                cal.value("collect_seconds", 0.0), cal.value("transform_seconds", 0.0),
                static_cast<double>(peakRssBytes()) / (1 << 20));
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::WholeModelBenchArgs args;
  if (!bench::parseWholeModelBenchArgs(argc, argv, "bench_prune_model", args)) return 2;
  setComputeThreads(args.threads);
  std::printf("threads %d\n", computeThreads());
  if (args.quality) quality();
  if (args.timing) timing();
  return 0;
}

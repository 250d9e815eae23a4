// Quantization figures on whole models (printed, never asserted):
//  1. quality on the real stories260K: perplexity vs float, top-1 agreement and KL of RTN, GPTQ,
//     AWQ and SmoothQuant at several bit widths / group sizes, calibrated on 128 x 256 tokens the
//     model sampled itself (seed 1) and evaluated on 32 x 256 other samples (seed 2);
//  2. time and peak memory of GPTQ / AWQ / RTN on a model shaped like llama2.c's stories15M
//     (dim 288, 6 layers, 6 heads, mlp 768, vocab 32000: 15.2M parameters; random weights,
//     random calibration ids: the timing does not depend on the values), 128 x 256 tokens.
//
//   bench_quantize_model [--threads N] [--skip-quality] [--skip-timing]
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_models.h"
#include "lib/format/checkpoint.h"
#include "lib/reference/model_comparison.h"
#include "lib/reference/reference_model.h"
#include "lib/support/memory_usage.h"
#include "passes/quantize/quantize_model.h"
#include "tests/sampled_ids.h"

using namespace slmc;

namespace {


struct Setting {
  const char* label;
  QuantMethod method;
  int bits;
  int64_t group;
  bool symmetric = true;
  bool act_dynamic = true;
};

void quality() {
  const Model base = loadModel(bench::modelsDir() + "/stories260K/stories260K.bin");
  const int64_t n = 128, len = 256;
  const std::vector<int32_t> calib = test::sampledFromBos(base, n, len, 1), eval = test::sampledFromBos(base, 32, len, 2);
  const ReferenceModel ref(base);
  std::printf("stories260K: calibration %lld x %lld self-sampled tokens, evaluation 32 x 256 (other seed)\n",
              static_cast<long long>(n), static_cast<long long>(len));
  std::printf("%-28s %10s %9s %8s %9s %7s\n", "setting", "ppl", "increase", "top-1", "mean KL", "sec");
  const Setting settings[] = {
      {"rtn   int8 per-channel", QuantMethod::Rtn, 8, 0},  {"gptq  int8 per-channel", QuantMethod::Gptq, 8, 0},
      {"rtn   int8 g32", QuantMethod::Rtn, 8, 32},         {"gptq  int8 g32", QuantMethod::Gptq, 8, 32},
      {"awq   int8 g32", QuantMethod::Awq, 8, 32},         {"rtn   int4 g128", QuantMethod::Rtn, 4, 128},
      {"gptq  int4 g128", QuantMethod::Gptq, 4, 128},      {"awq   int4 g128", QuantMethod::Awq, 4, 128},
      {"rtn   int4 g32", QuantMethod::Rtn, 4, 32},         {"gptq  int4 g32", QuantMethod::Gptq, 4, 32},
      {"awq   int4 g32", QuantMethod::Awq, 4, 32},         {"rtn   int4 g32 asym", QuantMethod::Rtn, 4, 32, false},
      {"gptq  int4 g32 asym", QuantMethod::Gptq, 4, 32, false}, {"awq   int4 g32 asym", QuantMethod::Awq, 4, 32, false},
      {"rtn   int3 g32 asym", QuantMethod::Rtn, 3, 32, false}, {"gptq  int3 g32 asym", QuantMethod::Gptq, 3, 32, false},
      {"smoothquant W8A8 dynamic", QuantMethod::SmoothQuant, 8, 0},
      {"smoothquant W8A8 static", QuantMethod::SmoothQuant, 8, 0, true, false},
  };
  for (const Setting& s : settings) {
    QuantizeOptions o;
    o.method = s.method;
    o.scheme = {s.bits, s.group, s.symmetric};
    o.act_dynamic = s.act_dynamic;
    if (!s.act_dynamic) o.act_observer.kind = ObserverKind::Mse;
    LayerwiseCalibrationOptions cal;
    cal.forward.sample_rows = s.act_dynamic ? 0 : 4096;
    Model m = base;
    const auto t0 = std::chrono::steady_clock::now();
    quantizeModel(m, o, calib, n, len, cal);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const ReferenceModel cand(m);
    ComparisonOptions c;
    c.ctx = len;
    const ComparisonResult r = compareModels(ref, cand, eval, c);
    std::printf("%-28s %10.3f %+8.2f%% %7.2f%% %9.5f %7.2f\n", s.label, r.candidate_perplexity,
                100.0 * (r.candidate_perplexity / r.base_perplexity - 1), 100.0 * r.top1_agreement, r.mean_kl, sec);
    static bool printed = false;
    if (!printed) std::printf("%-28s %10.3f\n", "(float32)", r.base_perplexity), printed = true;
  }
}

void timing() {
  const Model base = bench::stories15MShaped();
  const int64_t params = bench::parameterCount(base);
  const int64_t n = 128, len = 256;
  const std::vector<int32_t> ids = bench::randomIds(n, len, base.config.vocab_size);
  std::printf("\nstories15M-shaped model (%.1fM parameters, random weights), %lld x %lld calibration tokens\n",
              static_cast<double>(params) / 1e6, static_cast<long long>(n), static_cast<long long>(len));
  std::printf("%-18s %8s %10s %11s %18s %14s\n", "method", "total s", "collect s", "transform s", "per layer s",
              "peak RSS MiB");
  for (QuantMethod method : {QuantMethod::Rtn, QuantMethod::Gptq, QuantMethod::Awq}) {
    QuantizeOptions o;
    o.method = method;
    o.scheme = {4, 32, true};
    LayerwiseCalibrationOptions cal;
    cal.forward.sample_rows = 0;
    Model m = base;
    const auto t0 = std::chrono::steady_clock::now();
    const QuantizeOutcome out = quantizeModel(m, o, ids, n, len, cal);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string per_layer;
    for (const auto& l : out.figures["layers"])
      if (l.contains("seconds")) per_layer += (per_layer.empty() ? "" : " ") + std::to_string(l["seconds"].get<double>()).substr(0, 4);
    const nlohmann::json cal_fig = out.figures.value("calibration", nlohmann::json::object());
    std::printf("%-18s %8.2f %10.2f %11.2f %18s %14.0f\n", quantMethodName(method), sec,
                cal_fig.value("collect_seconds", 0.0), cal_fig.value("transform_seconds", 0.0),
                per_layer.empty() ? "-" : per_layer.c_str(), static_cast<double>(peakRssBytes()) / (1 << 20));
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::WholeModelBenchArgs args;
  if (!bench::parseWholeModelBenchArgs(argc, argv, "bench_quantize_model", args)) return 2;
  setComputeThreads(args.threads);
  std::printf("threads %d\n", computeThreads());
  if (args.quality) quality();
  if (args.timing) timing();
  return 0;
}

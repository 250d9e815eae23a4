// slmc bench model.slmc [-n 128] [--prompt 128] [--json out.json] [--no-bandwidth]
// Measures the runtime on a pack: prompt processing (one batched prefill of --prompt tokens),
// generation (-n greedy tokens, one at a time, after the prompt), the weight bytes each generated
// token reads, and the bandwidth that implies (bytes/token × tokens/s). The prompt is a fixed
// pseudo-random id sequence, so runs are comparable. Then, unless --no-bandwidth, the machine's
// memory read bandwidth with the runtime's threads (runtime/memory_bandwidth.h, about a second)
// and the fraction of it generation reaches: generation is bound by reading the weights, so that
// fraction says how close the kernels come to the machine's limit.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "lib/format/pack_reader.h"
#include "lib/report/report_figures.h"
#include "lib/report/report_file.h"
#include "lib/support/atomic_file.h"
#include "lib/support/error.h"
#include "lib/support/version.h"
#include "lib/support/output_path.h"
#include "runtime/generation_timing.h"
#include "runtime/kernels.h"
#include "runtime/memory_bandwidth.h"
#include "runtime/transformer.h"

namespace slmc {

namespace {

struct BenchOptions {
  std::string model;
  int64_t steps = 128;
  int64_t prompt = 128;
  std::string json_out;
  bool no_bandwidth = false;  // skip measuring the memory read bandwidth
};

// Seconds of reads the bandwidth measurement times (after filling its 1 GiB buffer).
constexpr double kBandwidthSeconds = 0.5;

void runBench(const BenchOptions& o, const CommonOptions& common) {
  require(o.steps >= 1, "-n " + std::to_string(o.steps) + ": generate at least 1 token");
  require(o.prompt >= 1, "--prompt " + std::to_string(o.prompt) + ": use a prompt of at least 1 token");
  // Checked before any work: a bad --json path fails in the first second, not after the run.
  if (!o.json_out.empty()) checkOutputFile(o.json_out, o.model, false, "--json");
  runtime::setRuntimeThreads(common.threads);
  // Opening maps the pack and checks it (checksums, NaN/Inf, scales): what every run pays first.
  const auto load_start = std::chrono::steady_clock::now();
  runtime::Transformer model = openPackForRuntime(o.model);
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  const ModelConfig& c = model.config();
  require(o.prompt + o.steps <= model.context(),
          "--prompt " + std::to_string(o.prompt) + " plus -n " + std::to_string(o.steps) +
              " exceed the model's context of " + std::to_string(model.context()) + " tokens (use smaller values)");

  const runtime::GenerationSpeed speed =
      runtime::timeGeneration(model, runtime::benchmarkPrompt(c, o.prompt), o.steps);
  const double pp = speed.prompt_tokens_per_second, tg = speed.generation_tokens_per_second;
  const int64_t bytes = model.weightBytesPerToken();
  const double gbps = static_cast<double>(bytes) * tg / 1e9;
  std::printf("model      %s  (%s, layers %lld, hidden %lld, vocab %lld)\n", o.model.c_str(), c.architecture.c_str(),
              static_cast<long long>(c.num_layers), static_cast<long long>(c.hidden_size),
              static_cast<long long>(c.vocab_size));
  std::printf("load       %.3f s  (map, checksums, value checks)\n", load_seconds);
  std::printf("prompt     %lld tokens  %.1f tokens/s\n", static_cast<long long>(o.prompt), pp);
  std::printf("generate   %lld tokens  %.1f tokens/s\n", static_cast<long long>(o.steps), tg);
  std::printf("weights    %lld bytes read per generated token  %.2f GB/s\n", static_cast<long long>(bytes), gbps);
  std::printf("threads    %d  kernels %s  activations %s\n", runtime::runtimeThreads(),
              runtime::isaName(runtime::activeIsa()), runtime::activationCodeName(runtime::activationCode()));
  // Measured after the runs, so that its buffer does not share the memory with the model's.
  nlohmann::json memory_gbps = nullptr, fraction = nullptr;
  if (!o.no_bandwidth) {
    const runtime::ReadBandwidth bw = runtime::measureReadBandwidth(runtime::runtimeThreads(), kBandwidthSeconds);
    memory_gbps = bw.best_gbps;
    fraction = gbps / bw.best_gbps;
    std::printf("bandwidth  %.1f GB/s read (%d threads)  generation reads weights at %.0f%% of it\n", bw.best_gbps,
                runtime::runtimeThreads(), 100.0 * gbps / bw.best_gbps);
  }
  if (!o.json_out.empty()) {
    nlohmann::json j = {{"schema_version", kReportSchemaVersion},
                              {"slmc_version", kVersion},
                              {"command", "bench"},
                              {"model", o.model},
                              {"prompt_tokens", o.prompt},
                              {"generated_tokens", o.steps},
                              {"prompt_tokens_per_second", pp},
                              {"generation_tokens_per_second", tg},
                              {"weight_bytes_per_token", bytes},
                              {"achieved_gb_per_second", gbps},
                              {"memory_read_gb_per_second", memory_gbps},
                              {"bandwidth_fraction", fraction},
                              {"threads", runtime::runtimeThreads()},
                              {"load_seconds", load_seconds},
                              {"kernels", runtime::isaName(runtime::activeIsa())},
                              {"activations", runtime::activationCodeName(runtime::activationCode())}};
    j["figures"] = figuresOf(j);  // the names every report shares
    writeFileAtomically(o.json_out, j.dump(2) + "\n");
  }
}

}  // namespace

void setupBench(CLI::App& app, const CommonOptions& common) {
  auto opts = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand("bench", "Runtime speed on a .slmc pack: prompt and generation tokens/s, GB/s");
  sub->add_option("model", opts->model, ".slmc pack (slmc export)")->required();
  sub->add_option("-n,--steps", opts->steps, "tokens to generate");
  sub->add_option("--prompt", opts->prompt, "prompt tokens to prefill");
  sub->add_option("--json", opts->json_out, "also write the figures as JSON to this file");
  sub->add_flag("--no-bandwidth", opts->no_bandwidth,
                "skip measuring the memory read bandwidth (and the fraction of it generation reaches)");
  sub->callback([opts, &common] { runBench(*opts, common); });
}

}  // namespace slmc

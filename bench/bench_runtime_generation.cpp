// Runtime generation speed against the machine's memory bandwidth (issue 5's targets: on a model
// whose weights exceed the cache, generation tokens/s ≥ 60% of bandwidth ÷ weight bytes per
// token, and int4 at least 2.5x faster than float32 on the same model).
//
// Builds a synthetic Llama (random weights, uniform with standard deviation 0.02: speed does not
// depend on the values; default hidden 1024, 16 layers, 16 heads of 64, MLP 2816, vocab 32000,
// context 1024, untied head: 271M parameters, 123 MB of int4 weights per token, far more than a
// last-level cache) and writes three packs of it: float32, int8 per-channel RTN and int4
// group-128 RTN (every linear and the head quantized, the embedding kept float). Then runs each
// pack as `slmc bench` does: a warm-up token, a prompt of --prompt pseudo-random ids prefilled,
// -n greedy tokens timed; --reps times, interleaved across the packs so that drifts in the
// machine's speed hit all three alike, each run right after a measurement of the memory read
// bandwidth (runtime/memory_bandwidth.h). Prints per pack: weight bytes per generated token,
// generation tokens/s (median and best run), the GB/s the median implies, the median over runs of
// (run's weight GB/s ÷ the bandwidth read before it), the speedup over float32, and prompt
// tokens/s. Asserts nothing.
//
// The packs go to --dir (default: a directory under the system's temp directory) and are reused
// by later runs when their provenance names the same shape and scheme.
//
//   bench_runtime_generation [--small] [--dir D] [-n N] [--prompt P] [--reps R] [--threads N]
//   (--small: hidden 256, 4 layers, 4 heads, MLP 704, vocab 4096: a quick smoke run)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/format/pack_reader.h"
#include "lib/format/pack_writer.h"
#include "lib/model/random_model.h"
#include "lib/reference/reference_model.h"
#include "lib/support/error.h"
#include "passes/quantize/quantize_model.h"
#include "runtime/generation_timing.h"
#include "runtime/kernels.h"
#include "runtime/memory_bandwidth.h"
#include "runtime/transformer.h"

using namespace slmc;

namespace {

struct Args {
  bool small = false;
  std::string dir;
  int64_t steps = 64, prompt = 64;
  int reps = 3;
  int threads = 0;  // 0: all cores
};

// False (after printing the usage) on an unknown flag or a bad value.
bool parseArgs(int argc, char** argv, Args& out) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--small") out.small = true;
    else if (a == "--dir" && has_value) out.dir = argv[++i];
    else if (a == "-n" && has_value) out.steps = std::atoll(argv[++i]);
    else if (a == "--prompt" && has_value) out.prompt = std::atoll(argv[++i]);
    else if (a == "--reps" && has_value) out.reps = std::atoi(argv[++i]);
    else if (a == "--threads" && has_value) out.threads = std::atoi(argv[++i]);
    else return false;
  }
  return out.steps >= 1 && out.prompt >= 1 && out.reps >= 1;
}

ModelConfig benchConfig(bool small) {
  ModelConfig c;
  c.hidden_size = small ? 256 : 1024;
  c.intermediate_size = small ? 704 : 2816;
  c.num_layers = small ? 4 : 16;
  c.num_heads = c.num_kv_heads = c.hidden_size / 64;
  c.head_dim = 64;
  c.vocab_size = small ? 4096 : 32000;
  c.max_position_embeddings = 1024;
  c.tie_word_embeddings = false;
  return c;
}

struct PackKind {
  const char* name;
  int bits;  // 0: float32
  int64_t group;
};
constexpr PackKind kPacks[] = {{"f32", 0, 0}, {"int8 per-channel", 8, 0}, {"int4 g128", 4, 128}};
constexpr uint64_t kSeed = 1;

// What a pack's provenance records and a rerun compares: the shape, the seed and the scheme.
std::string packSource(const ModelConfig& c, const PackKind& kind) {
  return "bench_runtime_generation: random Llama seed " + std::to_string(kSeed) + ", hidden " +
         std::to_string(c.hidden_size) + ", layers " + std::to_string(c.num_layers) + ", heads " +
         std::to_string(c.num_heads) + "x" + std::to_string(c.head_dim) + ", mlp " +
         std::to_string(c.intermediate_size) + ", vocab " + std::to_string(c.vocab_size) + ", context " +
         std::to_string(c.max_position_embeddings) + "; " + kind.name + (kind.bits ? " rtn" : "");
}

bool packIsCurrent(const std::string& path, const std::string& source) {
  if (!std::filesystem::exists(path)) return false;
  try {
    return PackFile::open(path).provenance().source == source;
  } catch (const Error&) {
    return false;  // damaged or from another format version: rewrite it
  }
}

// Writes the packs `paths` lacks (building the float model once, only when one is missing).
void writeMissingPacks(const ModelConfig& config, const std::vector<std::string>& paths) {
  std::vector<size_t> missing;
  for (size_t i = 0; i < paths.size(); ++i)
    if (!packIsCurrent(paths[i], packSource(config, kPacks[i]))) missing.push_back(i);
  if (missing.empty()) return;
  const auto t0 = std::chrono::steady_clock::now();
  // Uniform in [-a, a] has standard deviation a / sqrt(3).
  const Model base = randomModel(config, kSeed, static_cast<float>(0.02 * std::sqrt(3.0)));
  for (size_t i : missing) {
    const PackKind& kind = kPacks[i];
    Model m = base;
    if (kind.bits != 0) {
      QuantizeOptions q;
      q.method = QuantMethod::Rtn;
      q.scheme = {kind.bits, kind.group, true};
      q.keep = {"embed"};  // the head is quantized too: it is the largest matrix a token reads
      quantizeModel(m, q, {}, 0, 0, LayerwiseCalibrationOptions{});
    }
    PackProvenance provenance;
    provenance.source = packSource(config, kind);
    writePack(m, paths[i], provenance);
    std::printf("wrote %s (%.0f MB, %.0f s since start)\n", paths[i].c_str(),
                static_cast<double>(std::filesystem::file_size(paths[i])) / 1e6,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    std::fflush(stdout);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

void run(const Args& args) {
  const ModelConfig config = benchConfig(args.small);
  require(args.prompt + args.steps <= config.max_position_embeddings,
          "--prompt plus -n exceed the model's context of " + std::to_string(config.max_position_embeddings));
  setComputeThreads(args.threads);
  runtime::setRuntimeThreads(args.threads);
  const std::string dir =
      !args.dir.empty() ? args.dir
                        : (std::filesystem::temp_directory_path() /
                           (args.small ? "slmc-bench-generation-small" : "slmc-bench-generation"))
                              .string();
  std::filesystem::create_directories(dir);
  std::vector<std::string> paths;
  for (const char* file : {"f32.slmc", "int8.slmc", "int4-g128.slmc"})
    paths.push_back((std::filesystem::path(dir) / file).string());
  writeMissingPacks(config, paths);

  const int threads = runtime::runtimeThreads();
  std::vector<runtime::Transformer> models;
  models.reserve(paths.size());
  for (const std::string& path : paths) models.push_back(runtime::Transformer::open(path));
  const ModelConfig& c = models[0].config();
  std::printf("model: random Llama, hidden %lld, %lld layers, %lld heads x %lld, mlp %lld, vocab %lld, untied head\n",
              static_cast<long long>(c.hidden_size), static_cast<long long>(c.num_layers),
              static_cast<long long>(c.num_heads), static_cast<long long>(c.head_dim),
              static_cast<long long>(c.intermediate_size), static_cast<long long>(c.vocab_size));
  std::printf("threads %d, kernels %s, activations %s; prompt %lld, generate %lld tokens, %d interleaved reps\n",
              threads, runtime::isaName(runtime::activeIsa()), runtime::activationCodeName(runtime::activationCode()),
              static_cast<long long>(args.prompt), static_cast<long long>(args.steps), args.reps);

  const std::vector<int32_t> prompt = runtime::benchmarkPrompt(c, args.prompt);
  // A shared machine's memory speed drifts (here between about 35 and 65 GB/s within minutes), so every run
  // is compared with a bandwidth read just before it, and the fraction is the median of those.
  std::vector<std::vector<runtime::GenerationSpeed>> runs(models.size());
  std::vector<std::vector<double>> fractions(models.size());
  std::vector<double> bandwidths;
  for (int rep = 0; rep < args.reps; ++rep)
    for (size_t i = 0; i < models.size(); ++i) {
      const double gbps = runtime::measureReadBandwidth(threads, 0.3).best_gbps;
      runs[i].push_back(runtime::timeGeneration(models[i], prompt, args.steps));
      const double bytes = static_cast<double>(models[i].weightBytesPerToken());
      fractions[i].push_back(bytes * runs[i].back().generation_tokens_per_second / 1e9 / gbps);
      bandwidths.push_back(gbps);
    }
  std::printf("memory read bandwidth before each run: %.1f to %.1f GB/s (median %.1f)\n\n",
              *std::min_element(bandwidths.begin(), bandwidths.end()),
              *std::max_element(bandwidths.begin(), bandwidths.end()), median(bandwidths));

  std::printf("%-17s %14s %12s %10s %8s %9s %8s %14s\n", "pack", "weight MB/tok", "gen tok/s", "(best)", "GB/s",
              "% of mem", "vs f32", "prompt tok/s");
  double f32_tps = 0;
  for (size_t i = 0; i < models.size(); ++i) {
    std::vector<double> gen, pp;
    for (const runtime::GenerationSpeed& r : runs[i])
      gen.push_back(r.generation_tokens_per_second), pp.push_back(r.prompt_tokens_per_second);
    const double tps = median(gen), best = *std::max_element(gen.begin(), gen.end());
    if (i == 0) f32_tps = tps;
    const double bytes = static_cast<double>(models[i].weightBytesPerToken());
    const double gbps = bytes * tps / 1e9;
    std::printf("%-17s %14.1f %12.1f %10.1f %8.2f %8.0f%% %7.2fx %14.1f\n", kPacks[i].name, bytes / 1e6, tps, best,
                gbps, 100.0 * median(fractions[i]), tps / f32_tps, median(pp));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parseArgs(argc, argv, args)) {
    std::fprintf(stderr,
                 "usage: bench_runtime_generation [--small] [--dir D] [-n N] [--prompt P] [--reps R] [--threads N]\n");
    return 2;
  }
  try {
    run(args);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

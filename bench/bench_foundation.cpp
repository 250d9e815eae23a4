// Foundation figures (printed, never asserted): checkpoint load time vs a plain read of the same
// bytes, reference-forward tokens/s and GFLOP/s vs the matmul throughput LibTorch reaches on the
// same shapes, and peak RSS vs model bytes + activations of one batch.
//
//   bench_foundation [--model PATH] [--synthetic] [--batch B] [--seq S] [--threads N] [--iters K]
//
// Default model: $SLMC_MODELS/stories260K/stories260K.bin. --synthetic instead builds a random
// Llama-style model (hidden 512, 8 layers, mlp 1408, vocab 8192; ~50M parameters), writes it as a
// Hugging Face directory under /tmp and loads that, so the figures also cover a model whose
// matmuls are big enough for BLAS to matter.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "lib/format/checkpoint.h"
#include "lib/format/hf_checkpoint.h"
#include "lib/model/random_model.h"
#include "lib/reference/reference_model.h"

using namespace slmc;
namespace fs = std::filesystem;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// VmHWM (peak) or VmRSS (current) of this process from /proc, in MiB.
double procStatusMiB(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::strlen(key) + 1)) / 1024.0;  // kB
  return 0;
}

// Plain sequential read of every file under `path` (a file or a directory), in bytes.
size_t readAll(const std::string& path) {
  std::vector<std::string> files;
  if (fs::is_directory(path)) {
    for (const auto& e : fs::directory_iterator(path))
      if (e.is_regular_file()) files.push_back(e.path().string());
  } else {
    files.push_back(path);
  }
  std::vector<char> buf(1 << 20);
  size_t total = 0;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0)
      total += static_cast<size_t>(in.gcount());
  }
  return total;
}

Model syntheticModel() {
  ModelConfig c;
  c.hidden_size = 512;
  c.intermediate_size = 1408;
  c.num_layers = 8;
  c.num_heads = 8;
  c.num_kv_heads = 8;
  c.head_dim = 64;
  c.vocab_size = 8192;
  c.max_position_embeddings = 1024;
  return randomModel(c, 0, 0.03f);
}

// GFLOP/s LibTorch's matmuls reach on every matmul shape of one forward (linear layers, the
// attention's batched QK^T and PV per causal block, the output head), each timed alone (best of `iters`) and
// weighted by its share of the forward's FLOPs.
double matmulGflops(const ModelConfig& c, int64_t batch, int64_t seq, int iters) {
  const int64_t rows = batch * seq, q = c.num_heads * c.head_dim;
  struct Case {
    at::Tensor a, b;
    int64_t count;  // per forward
    bool batched;
  };
  const auto linear = [&](int64_t out, int64_t in, int64_t count) {
    return Case{at::randn({rows, in}), at::randn({out, in}), count * c.num_layers, false};
  };
  std::vector<Case> cases = {
      linear(q, c.hidden_size, 1),
      linear(c.kvDim(), c.hidden_size, 2),
      linear(c.hidden_size, q, 1),
      linear(c.intermediate_size, c.hidden_size, c.gatedMlp() ? 2 : 1),
      linear(c.hidden_size, c.intermediate_size, 1),
      {at::randn({rows, c.hidden_size}), at::randn({c.vocab_size, c.hidden_size}), 1, false},  // head
  };
  // The forward stacks the q heads that share a kv head: kv_heads products of rep*rows rows.
  const int64_t groups = batch * c.num_kv_heads, rep = c.num_heads / c.num_kv_heads;
  for (const AttentionBlock& b : causalAttentionBlocks(seq)) {
    cases.push_back({at::randn({groups, rep * b.rows, c.head_dim}), at::randn({groups, c.head_dim, b.keys}),
                     c.num_layers, true});
    cases.push_back({at::randn({groups, rep * b.rows, b.keys}), at::randn({groups, b.keys, c.head_dim}),
                     c.num_layers, true});
  }
  double flops = 0, seconds = 0;
  for (const Case& k : cases) {
    const auto run = [&] { return k.batched ? at::bmm(k.a, k.b) : at::linear(k.a, k.b); };
    run();  // warm-up
    double best = 1e30;
    for (int i = 0; i < iters; ++i) {
      const double t0 = now();
      run();
      best = std::min(best, now() - t0);
    }
    const double one = k.batched ? 2.0 * static_cast<double>(k.a.size(0) * k.a.size(1) * k.a.size(2) * k.b.size(2))
                                 : 2.0 * static_cast<double>(k.a.size(0) * k.a.size(1) * k.b.size(0));
    flops += one * static_cast<double>(k.count);
    seconds += best * static_cast<double>(k.count);
  }
  return flops / seconds / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const char* env = std::getenv("SLMC_MODELS");
  std::string model_path = std::string(env ? env : "../shared/models") + "/stories260K/stories260K.bin";
  bool synthetic = false;
  int64_t batch = 8, seq = 256;
  int threads = 0, iters = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_foundation: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--model") model_path = next();
    else if (a == "--synthetic") synthetic = true;
    else if (a == "--batch") batch = std::stoll(next());
    else if (a == "--seq") seq = std::stoll(next());
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--iters") iters = std::stoi(next());
    else {
      std::fprintf(stderr, "usage: bench_foundation [--model PATH] [--synthetic] [--batch B] [--seq S] [--threads N] [--iters K]\n");
      return 2;
    }
  }
  setComputeThreads(threads);
  // Let LibTorch and the BLAS under it initialise (thread pools, OpenBLAS's work buffers) before
  // taking the baseline: those are a fixed cost of the process, not of the model.
  at::bmm(at::randn({2, 64, 64}), at::randn({2, 64, 64})).sum();
  at::linear(at::randn({256, 256}), at::randn({256, 256})).sum();
  const double baseline_mib = procStatusMiB("VmRSS:");
  if (synthetic) {
    model_path = (fs::temp_directory_path() / "slmc-bench-synthetic").string();
    if (!fs::exists(model_path + "/model.safetensors")) saveHfDirectory(syntheticModel(), model_path);
  }

  // Load vs read: both from the page cache (the first read warms it), best of `iters`.
  size_t bytes = readAll(model_path);
  double read_s = 1e30, load_s = 1e30;
  for (int i = 0; i < iters; ++i) {
    double t0 = now();
    bytes = readAll(model_path);
    read_s = std::min(read_s, now() - t0);
    t0 = now();
    const Model m = loadModel(model_path);  // mmap + validation (every weight checked finite)
    load_s = std::min(load_s, now() - t0);
  }
  const Model model = loadModel(model_path);
  const ModelConfig& c = model.config;
  std::printf("model        %s (%s, %lld layers, hidden %lld, vocab %lld)\n", model_path.c_str(),
              c.architecture.c_str(), static_cast<long long>(c.num_layers), static_cast<long long>(c.hidden_size),
              static_cast<long long>(c.vocab_size));
  std::printf("threads      %d\n", computeThreads());
  std::printf("load         %.2f ms vs plain read %.2f ms of %.1f MiB: %.2fx (target <= 1.5x)\n", load_s * 1e3,
              read_s * 1e3, static_cast<double>(bytes) / (1 << 20), load_s / read_s);

  seq = std::min(seq, c.max_position_embeddings);
  const ReferenceModel reference(model);
  std::vector<int32_t> ids(static_cast<size_t>(batch * seq));
  std::mt19937 rng(1);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(c.vocab_size));
  reference.nextTokenNll(ids, batch, seq);  // warm-up
  double fwd_s = 1e30;
  for (int i = 0; i < iters; ++i) {
    const double t0 = now();
    reference.nextTokenNll(ids, batch, seq);
    fwd_s = std::min(fwd_s, now() - t0);
  }
  const double peak_mib = procStatusMiB("VmHWM:") - baseline_mib;  // before the matmul baseline allocates
  const double flops = reference.forwardFlops(batch, seq);
  const double fwd_gflops = flops / fwd_s / 1e9;
  const double mm_gflops = matmulGflops(c, batch, seq, iters);
  std::printf("forward      [%lld x %lld] %.2f ms: %.0f tokens/s, %.2f GFLOP/s\n", static_cast<long long>(batch),
              static_cast<long long>(seq), fwd_s * 1e3, static_cast<double>(batch * seq) / fwd_s, fwd_gflops);
  std::printf("matmul       %.2f GFLOP/s on the same matmul shapes: forward reaches %.0f%% (target >= 50%%)\n",
              mm_gflops, 100.0 * fwd_gflops / mm_gflops);

  // Activations of one batch, float32: the residual stream and the widest per-token tensor of a
  // layer (fused q/k/v outputs or the MLP's hidden units), the scores of one causal attention
  // block (at most 64 query rows x seq keys per head), and the logits of one 512-row chunk
  // (nextTokenNll computes the head in chunks).
  const double tokens = static_cast<double>(batch * seq);
  const double widest = static_cast<double>(std::max(c.num_heads * c.head_dim + 2 * c.kvDim(),
                                                     (c.gatedMlp() ? 2 : 1) * c.intermediate_size));
  const double activations = 4.0 * (tokens * (static_cast<double>(c.hidden_size) + widest) +
                                    static_cast<double>(batch * c.num_heads) *
                                        static_cast<double>(causalAttentionBlocks(seq).front().rows * seq) +
                                    std::min(512.0, tokens) * static_cast<double>(c.vocab_size));
  const double model_mib = static_cast<double>(bytes) / (1 << 20);
  std::printf("peak RSS     %.1f MiB above the %.1f MiB of the process with LibTorch loaded, vs model %.1f MiB + "
              "2 x activations %.1f MiB = %.1f MiB\n",
              peak_mib, baseline_mib, model_mib, activations / (1 << 20),
              model_mib + 2 * activations / (1 << 20));
  return 0;
}

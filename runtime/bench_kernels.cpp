// bench_runtime_kernels: how fast the runtime's matmul reads its weights, per path and weight
// type, against the memory bandwidth this machine measures itself (a STREAM-like read of a
// buffer far larger than the caches: runtime/memory_bandwidth.h). Generation (n = 1) is bound by
// that bandwidth, so "kernel GB/s ÷ machine GB/s" is the figure the runtime's generation target
// reads (≥ 60 %).
//
// Weight GB/s counts the bytes of weight data one matmul reads (codes + scales + zeros, or the
// float values), not the activations. "DRAM" figures rotate over enough copies of the weights
// (≥ 4x the last-level cache) that every call reads them from memory; "cached" figures repeat
// one copy, as a model small enough to stay in cache runs. Each figure comes from the fastest of
// >= 0.6 s of calls (other processes on the machine only ever slow a call down); the median
// call is printed beside it. Prints; asserts nothing. OMP_NUM_THREADS sets the threads of both
// the kernels and the bandwidth baseline.
//
// Then the products of one generated token of a 271M-parameter int4 model, from memory and from
// cache (benchTokenProducts).
//
// Usage: bench_runtime_kernels [--quick]   (--quick: fewer repetitions, for a smoke run)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/kernels.h"
#include "runtime/memory_bandwidth.h"

namespace rt = slmc::runtime;

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double g_seconds = 0.6;  // each measurement calls for at least this long (and at least 5 times)

struct Rng {  // xorshift64*: fast filler, quality irrelevant here
  uint64_t s = 0x9E3779B97F4A7C15ull;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
};

// Seconds per call of fn(k) (k counts calls): the fastest and the median call. On a machine
// shared with other work the fastest call is the kernel's own speed; the median shows what
// preemption (a thread of the team descheduled mid-call) costs.
struct CallTimes {
  double best, median;
};

template <class Fn>
CallTimes timeCalls(Fn&& fn) {
  int64_t k = 0;
  fn(k++);  // warm-up
  std::vector<double> times;
  const auto start = Clock::now();
  while (times.size() < 5 || seconds(start, Clock::now()) < g_seconds) {
    const auto t0 = Clock::now();
    fn(k++);
    times.push_back(seconds(t0, Clock::now()));
  }
  std::sort(times.begin(), times.end());
  return {times.front(), times[times.size() / 2]};
}

// `copies` weight matrices of one type and shape, filled with random codes / values.
struct WeightSet {
  std::vector<uint8_t> codes, zeros;
  std::vector<uint16_t> scales, f16;
  std::vector<float> f32;
  std::vector<rt::QuantMatrix> views;
};

WeightSet makeWeights(rt::WeightType type, int64_t rows, int64_t cols, int64_t group_size, bool symmetric, int copies) {
  WeightSet s;
  Rng rng;
  const int64_t count = rows * cols;
  const auto randomHalf = [&] {  // a normal float16 of magnitude 2^-5 .. 2^-1
    const uint64_t r = rng.next();
    return static_cast<uint16_t>((r & 0x8000u) | ((10 + r % 5) << 10) | ((r >> 8) & 0x3ffu));
  };
  rt::QuantMatrix shape;
  shape.type = type;
  shape.rows = rows;
  shape.cols = cols;
  shape.group_size = group_size;
  shape.symmetric = symmetric;
  if (type == rt::WeightType::F32) {
    s.f32.resize(static_cast<size_t>(count * copies));
    for (auto& v : s.f32) {
      const uint32_t bits = static_cast<uint32_t>(rng.next() & 0x807fffffu) | (122u << 23);  // ±[2^-5, 2^-4)
      std::memcpy(&v, &bits, sizeof v);
    }
  } else if (type == rt::WeightType::F16 || type == rt::WeightType::BF16) {
    s.f16.resize(static_cast<size_t>(count * copies));
    for (auto& v : s.f16) v = randomHalf();  // as bfloat16: a normal value of magnitude ~2^-80
  } else {
    const int bits = slmc::weightTypeTraits(type).bits;
    const int64_t groups = shape.groups();
    s.codes.resize(static_cast<size_t>(rows * slmc::codeRowBytes(cols, bits) * copies));
    for (auto& b : s.codes) b = static_cast<uint8_t>(rng.next() >> 24);
    s.scales.resize(static_cast<size_t>(rows * groups * copies));
    for (auto& v : s.scales) v = static_cast<uint16_t>(randomHalf() & 0x7fffu);
    if (!symmetric) {
      s.zeros.resize(static_cast<size_t>(rows * slmc::codeRowBytes(groups, bits) * copies));
      for (auto& b : s.zeros) b = static_cast<uint8_t>(rng.next() >> 24);
    }
  }
  for (int k = 0; k < copies; ++k) {
    rt::QuantMatrix v = shape;
    if (type == rt::WeightType::F32) {
      v.f32 = s.f32.data() + k * count;
    } else if (type == rt::WeightType::F16) {
      v.f16 = s.f16.data() + k * count;
    } else if (type == rt::WeightType::BF16) {
      v.bf16 = s.f16.data() + k * count;
    } else {
      const int bits = slmc::weightTypeTraits(type).bits;
      v.codes = s.codes.data() + k * rows * slmc::codeRowBytes(cols, bits);
      v.scales = s.scales.data() + k * rows * shape.groups();
      if (!symmetric) v.zeros = s.zeros.data() + k * rows * slmc::codeRowBytes(shape.groups(), bits);
    }
    s.views.push_back(v);
  }
  return s;
}

struct Shape {
  int64_t rows, cols;
  std::vector<int64_t> batches;
};

void siluTimes(float* g, const float* u, int64_t count) {
  for (int64_t k = 0; k < count; ++k) g[k] = g[k] / (1.0f + std::exp(-g[k])) * u[k];
}

// The products of one generated token of bench_runtime_generation's int4 g128 model (hidden
// 1024, MLP 2816, 16 layers; no head), grouped as the runtime runs them: q/k/v in one
// matmulShared, o_proj, gate/up in one matmulGated, down_proj. With no attention, norms or
// other work between them this is the most a token's products can stream, from memory (16
// layers of weights, 4x the L3) and with the weights in cache (one layer's, 6.6 MB, 16 times):
// when the first is near the second, the cores, not the memory, set the pace.
void benchTokenProducts(double bandwidth) {
  constexpr int64_t kHidden = 1024, kMlp = 2816, kLayers = 16;
  struct Layer {
    WeightSet q, k, v, o, gate, up, down;
  };
  const auto make = [](int64_t rows, int64_t cols) { return makeWeights(rt::WeightType::Q4, rows, cols, 128, true, 1); };
  std::vector<Layer> layers;
  int64_t bytes = 0;
  for (int64_t l = 0; l < kLayers; ++l) {
    layers.push_back({make(kHidden, kHidden), make(kHidden, kHidden), make(kHidden, kHidden), make(kHidden, kHidden),
                      make(kMlp, kHidden), make(kMlp, kHidden), make(kHidden, kMlp)});
    const Layer& L = layers.back();
    for (const WeightSet* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) bytes += w->views[0].weightBytes();
  }
  bytes /= kLayers;  // per layer
  std::vector<float> x(kHidden), q(kHidden), k(kHidden), v(kHidden), o(kHidden), g(kMlp), u(kMlp);
  Rng rng;
  for (auto& e : x) e = static_cast<float>(static_cast<int64_t>(rng.next() % 2001) - 1000) / 1000.0f;
  const auto token = [&](int64_t distinct) {
    for (int64_t l = 0; l < kLayers; ++l) {
      const Layer& L = layers[static_cast<size_t>(l % distinct)];
      const rt::MatmulOutput qkv[3] = {{&L.q.views[0], q.data()}, {&L.k.views[0], k.data()}, {&L.v.views[0], v.data()}};
      rt::matmulShared(qkv, 3, x.data(), 1);
      rt::matmul(L.o.views[0], q.data(), 1, o.data());
      rt::matmulGated(L.gate.views[0], L.up.views[0], x.data(), 1, g.data(), u.data(), siluTimes);
      rt::matmul(L.down.views[0], g.data(), 1, o.data());
    }
  };
  std::printf("\na token's products, int4 g128 (%d layers of q/k/v, o, gate/up, down at hidden %lld, MLP %lld; "
              "%.1f MB per token):\n",
              static_cast<int>(kLayers), static_cast<long long>(kHidden), static_cast<long long>(kMlp),
              static_cast<double>(bytes * kLayers) / 1e6);
  for (const int64_t distinct : {kLayers, int64_t{1}}) {
    const CallTimes t = timeCalls([&](int64_t) { token(distinct); });
    const double gbs = static_cast<double>(bytes * kLayers) / t.best / 1e9;
    std::printf("  %-34s %8.2f ms  %6.2f GB/s (median %.2f)  %4.0f%% of mem\n",
                distinct == 1 ? "one layer's weights, in cache:" : "16 layers' weights, from memory:", t.best * 1e3,
                gbs, static_cast<double>(bytes * kLayers) / t.median / 1e9, 100.0 * gbs / bandwidth);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--quick") == 0) g_seconds = 0.05;
  const int threads = omp_get_max_threads();
  std::printf("bench_runtime_kernels: %d OpenMP threads; paths on this CPU:", threads);
  std::vector<rt::Isa> isas;
  for (rt::Isa isa : {rt::Isa::Scalar, rt::Isa::Avx2, rt::Isa::Avx512})
    if (rt::cpuSupports(isa)) {
      isas.push_back(isa);
      std::printf(" %s", rt::isaName(isa));
    }
  std::printf("%s\n", rt::cpuHasAvx512Vnni()
                          ? " (+avx512vnni: rows \"int8x2\" and \"int8\" are matmulInt8 with two int8 digits per "
                            "activation (~1e-5, matmul()'s default) and with one (approximate))"
                          : "");

  const rt::ReadBandwidth bw1 = rt::measureReadBandwidth(1, g_seconds),
                          bw_start = rt::measureReadBandwidth(threads, g_seconds);
  std::printf(
      "memory read bandwidth (16 MiB reads from a 1 GiB buffer): 1 thread %.1f GB/s (median %.1f), "
      "%d threads %.1f GB/s (median %.1f)\n\n",
      bw1.best_gbps, bw1.median_gbps, threads, bw_start.best_gbps, bw_start.median_gbps);
  const double bw = bw_start.best_gbps;    // what "% of mem" divides by
  const int64_t cache_bytes = 32ll << 20;  // rotate over >= 4x a 32 MiB last-level cache
  const std::vector<Shape> shapes = {{4096, 4096, {1}}, {11008, 4096, {1}}, {288, 768, {1, 64}}, {768, 288, {1, 64}}};
  struct TypeCase {
    rt::WeightType type;
    int64_t group_size;
    bool symmetric;
  };
  const std::vector<TypeCase> types = {
      {rt::WeightType::F32, 0, true},  {rt::WeightType::F16, 0, true},  {rt::WeightType::BF16, 0, true},
      {rt::WeightType::Q8, 128, true}, {rt::WeightType::Q6, 32, true},  {rt::WeightType::Q5, 32, true},
      {rt::WeightType::Q4, 128, true}, {rt::WeightType::Q4, 32, false}, {rt::WeightType::Q3, 128, true},
      {rt::WeightType::Q2, 64, false},
  };

  std::printf("%-11s %-3s %-12s %-7s %9s %9s %9s %7s %8s %9s\n", "shape", "n", "weights", "path", "us/call",
              "DRAM GB/s", "(median)", "% of mem", "GFLOP/s", "cached");
  for (const Shape& shape : shapes)
    for (const TypeCase& tc : types) {
      rt::QuantMatrix probe;
      probe.type = tc.type;
      probe.rows = shape.rows;
      probe.cols = shape.cols;
      probe.group_size = tc.group_size;
      probe.symmetric = tc.symmetric;
      // A group that does not divide the row (128 on 288 columns) falls back to the largest of
      // 128/64/32 that does, as a quantizer would have to.
      while (probe.group_size > 32 && shape.cols % probe.group_size != 0) probe.group_size /= 2;
      if (probe.group_size > 0 && shape.cols % probe.group_size != 0) continue;
      std::string label = slmc::weightTypeTraits(tc.type).name;
      if (slmc::weightTypeTraits(tc.type).quantized)
        label += " g" + std::to_string(probe.group_size) + (tc.symmetric ? " sym" : " asym");
      const int64_t bytes = probe.weightBytes();
      const int copies = static_cast<int>(std::max<int64_t>(2, (4 * cache_bytes + bytes - 1) / bytes));
      const WeightSet set = makeWeights(tc.type, shape.rows, shape.cols, probe.group_size, tc.symmetric, copies);
      if (const std::string problem = rt::checkMatrix(set.views[0]); !problem.empty()) {
        std::printf("%s: %s\n", label.c_str(), problem.c_str());
        return 1;
      }
      for (int64_t n : shape.batches) {
        std::vector<float> x(static_cast<size_t>(n * shape.cols)), y(static_cast<size_t>(n * shape.rows));
        Rng rng;
        for (auto& v : x) v = static_cast<float>(static_cast<int64_t>(rng.next() % 2001) - 1000) / 1000.0f;
        for (rt::Isa isa : isas) {
          const CallTimes cold = timeCalls(
              [&](int64_t k) { rt::matmul(set.views[static_cast<size_t>(k % copies)], x.data(), n, y.data(), isa); });
          const CallTimes hot = timeCalls([&](int64_t) { rt::matmul(set.views[0], x.data(), n, y.data(), isa); });
          const double gbs = static_cast<double>(bytes) / cold.best / 1e9;
          const double gflops = 2.0 * static_cast<double>(shape.rows * shape.cols * n) / cold.best / 1e9;
          char shape_name[32];
          std::snprintf(shape_name, sizeof shape_name, "%lldx%lld", static_cast<long long>(shape.rows),
                        static_cast<long long>(shape.cols));
          std::printf("%-11s %-3lld %-12s %-7s %9.1f %9.2f %9.2f %7.0f%% %8.2f %9.2f\n", shape_name,
                      static_cast<long long>(n), label.c_str(), rt::isaName(isa), cold.best * 1e6, gbs,
                      static_cast<double>(bytes) / cold.median / 1e9, 100.0 * gbs / bw, gflops,
                      static_cast<double>(bytes) / hot.best / 1e9);
          std::fflush(stdout);
        }
        if (rt::int8MatmulRuns(set.views[0], n))  // the int8-activation paths
          for (rt::ActivationCode code : {rt::ActivationCode::Int8x2, rt::ActivationCode::Int8}) {
            const CallTimes cold = timeCalls([&](int64_t k) {
              rt::matmulInt8(set.views[static_cast<size_t>(k % copies)], x.data(), n, y.data(), code);
            });
            const CallTimes hot =
                timeCalls([&](int64_t) { rt::matmulInt8(set.views[0], x.data(), n, y.data(), code); });
            const double gbs = static_cast<double>(bytes) / cold.best / 1e9;
            std::printf("%-11s %-3lld %-12s %-7s %9.1f %9.2f %9.2f %7.0f%% %8.2f %9.2f\n", "",
                        static_cast<long long>(n), label.c_str(), rt::activationCodeName(code), cold.best * 1e6, gbs,
                        static_cast<double>(bytes) / cold.median / 1e9, 100.0 * gbs / bw,
                        2.0 * static_cast<double>(shape.rows * shape.cols * n) / cold.best / 1e9,
                        static_cast<double>(bytes) / hot.best / 1e9);
            std::fflush(stdout);
          }
      }
    }
  benchTokenProducts(bw);
  const rt::ReadBandwidth bw_end = rt::measureReadBandwidth(threads, g_seconds);
  std::printf("\nmemory read bandwidth again at the end: %d threads %.1f GB/s (median %.1f)%s\n", threads,
              bw_end.best_gbps, bw_end.median_gbps,
              bw_end.best_gbps > bw ? ": higher than at the start, so the % column above is overstated" : "");
  return 0;
}

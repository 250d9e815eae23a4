// LayerwiseForward on the reference decoder's own layer code (reference_decoder_torch.h).
//
// Statistics are of each site's input exactly as the linears receive it from the layer, BEFORE
// any activation fake quantization the model sets for them (so that observers calibrating a
// static scale see the raw values). Accumulation: each chunk's XᵀX is one float32 matrix product
// (bfloat16 with float32 accumulation under LayerwiseOptions::bf16) over at most batch·seq rows,
// added into a float64 accumulator (as is Σ|x|), so the rounding error does not grow with the
// number of chunks; the result is stored as float32.
//
// Sampled rows: per site, Algorithm R (the same as datasets/sampler.h) over the site's token
// rows in order (sample-major, then position), with std::mt19937_64 seeded with
// options.seed + layer·1000 + site index (attn_in 0, attn_out 1, mlp_in 2, mlp_out 3) and
// unbiased draws (reject x < 2^64 mod n, then x mod n). Kept rows are returned in row order.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>

#include "lib/reference/bf16_autocast_torch.h"
#include "lib/reference/cpu_block_cache.h"
#include "lib/reference/layerwise_forward.h"
#include "lib/reference/reference_decoder_torch.h"
#include "lib/support/error.h"

namespace slmc {

namespace {

uint64_t uniformBelow(std::mt19937_64& rng, uint64_t n) {
  const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
  for (;;) {
    const uint64_t x = rng();
    if (x >= threshold) return x % n;
  }
}

std::vector<float> toVector(const at::Tensor& t) {
  const at::Tensor f = t.to(at::kFloat).contiguous();
  std::vector<float> out(static_cast<size_t>(f.numel()));
  if (!out.empty()) std::memcpy(out.data(), f.data_ptr<float>(), out.size() * sizeof(float));
  return out;
}

std::string nonFiniteMessage(int64_t layer, const std::string& where) {
  return "layer " + std::to_string(layer) + " " + where + ": activation is NaN/Inf (the weights of layers <= " +
         std::to_string(layer) + " produce non-finite values)";
}

// What one site accumulates over the chunks of a collect().
class SiteAccumulator {
 public:
  SiteAccumulator(int64_t layer, decoder::Site site, int64_t channels, int64_t capacity, uint64_t seed)
      : layer_(layer),
        site_(site),
        channels_(channels),
        capacity_(capacity),
        rng_(seed),
        xtx_(at::zeros({channels, channels}, at::kDouble)),
        abs_max_(at::zeros({channels}, at::kFloat)),
        abs_sum_(at::zeros({channels}, at::kDouble)),
        sample_(at::empty({capacity, channels}, at::kFloat)),
        sample_source_(static_cast<size_t>(capacity), -1) {}

  void add(const at::Tensor& x) {
    const at::Tensor rows = x.reshape({-1, channels_});
    const at::Tensor abs = rows.abs();
    const at::Tensor chunk_sum = abs.sum(0, /*keepdim=*/false, at::kDouble);
    // Σ|x| is NaN or Inf exactly when some element is (a float64 sum of floats cannot overflow).
    require(at::isfinite(chunk_sum).all().item<bool>(), nonFiniteMessage(layer_, decoder::siteName(site_)));
    abs_sum_.add_(chunk_sum);
    at::maximum_out(abs_max_, abs_max_, abs.amax(0));
    xtx_.add_(at::matmul(rows.t(), rows).to(at::kDouble));
    sampleRows(rows);
    tokens_ += rows.size(0);
  }

  SiteStats finish(const SiteSpec& spec) const {
    SiteStats s;
    s.site = spec.site;
    s.linears = spec.linears;
    s.channels = channels_;
    s.tokens = tokens_;
    s.xtx = toVector(xtx_);
    s.abs_max = toVector(abs_max_);
    s.abs_sum = toVector(abs_sum_);
    const int64_t kept = std::min(capacity_, tokens_);
    std::vector<int64_t> slots(static_cast<size_t>(kept));
    for (int64_t i = 0; i < kept; ++i) slots[static_cast<size_t>(i)] = i;
    std::sort(slots.begin(), slots.end(), [&](int64_t a, int64_t b) {
      return sample_source_[static_cast<size_t>(a)] < sample_source_[static_cast<size_t>(b)];
    });
    s.sample_rows = kept;
    if (kept > 0) s.sample = toVector(sample_.index_select(0, at::tensor(slots, at::kLong)));
    return s;
  }

 private:
  // Algorithm R over the rows seen so far; rows of this chunk replace reservoir slots.
  void sampleRows(const at::Tensor& rows) {
    if (capacity_ == 0) return;
    std::map<int64_t, int64_t> slot_row;  // slot -> row of this chunk (the last one to land there wins)
    for (int64_t i = 0; i < rows.size(0); ++i) {
      const int64_t t = tokens_ + i;
      int64_t slot = t;
      if (t >= capacity_) {
        const uint64_t j = uniformBelow(rng_, static_cast<uint64_t>(t) + 1);
        slot = j < static_cast<uint64_t>(capacity_) ? static_cast<int64_t>(j) : -1;
      }
      if (slot < 0) continue;
      slot_row[slot] = i;
      sample_source_[static_cast<size_t>(slot)] = t;
    }
    if (slot_row.empty()) return;
    std::vector<int64_t> slots, picked;
    for (const auto& [slot, row] : slot_row) {
      slots.push_back(slot);
      picked.push_back(row);
    }
    sample_.index_copy_(0, at::tensor(slots, at::kLong),
                        rows.index_select(0, at::tensor(picked, at::kLong)).to(at::kFloat));
  }

  int64_t layer_;
  decoder::Site site_;
  int64_t channels_, capacity_;
  std::mt19937_64 rng_;
  at::Tensor xtx_, abs_max_, abs_sum_, sample_;
  std::vector<int64_t> sample_source_;  // global row index held by each slot
  int64_t tokens_ = 0;
};

}  // namespace

struct LayerwiseForward::State {
  // The chunks' temporaries reuse the previous chunk's blocks (cpu_block_cache.h); constructed
  // with the forward's shapes, see LayerwiseForward's constructor.
  std::unique_ptr<CpuBlockCache::Scope> block_cache;
  ModelConfig config;
  LayerwiseOptions options;
  int64_t num_samples = 0, seq = 0, next = 0;
  at::Tensor hidden;  // [N, S, H]: the input of layer `next`
  decoder::Rope rope;
  at::Tensor causal_bias;

  void requireLayerLeft(const Model& model, const char* what) const {
    require(next < config.num_layers, std::string("layer-wise forward: ") + what + " after all " +
                                          std::to_string(config.num_layers) +
                                          " layers have run (nothing left; start a new LayerwiseForward)");
    const ModelConfig& m = model.config;
    require(m.family == config.family && m.hidden_size == config.hidden_size && m.num_layers == config.num_layers &&
                m.num_heads == config.num_heads && m.num_kv_heads == config.num_kv_heads &&
                m.head_dim == config.head_dim && m.intermediate_size == config.intermediate_size,
            std::string("layer-wise forward: ") + what +
                " got a model of another architecture than the one the samples were embedded with (pass the same "
                "model)");
  }

  // Runs `fn(x)` on each chunk of at most options.batch samples; x is a view of `hidden`.
  template <typename F>
  void forEachChunk(F&& fn) {
    for (int64_t begin = 0; begin < num_samples; begin += options.batch)
      fn(hidden.narrow(0, begin, std::min(options.batch, num_samples - begin)));
  }
};

LayerwiseForward::LayerwiseForward(const Model& model, const std::vector<int32_t>& ids, int64_t num_samples,
                                   int64_t seq, const LayerwiseOptions& options)
    : state_(std::make_unique<State>()) {
  c10::InferenceMode guard;
  require(num_samples >= 1 && seq >= 1, "layer-wise forward needs at least one calibration sample of one token, got [" +
                                            std::to_string(num_samples) + ", " + std::to_string(seq) + "]");
  require(options.batch >= 1, "layer-wise forward: batch must be at least 1, got " + std::to_string(options.batch));
  require(options.sample_rows >= 0,
          "layer-wise forward: sample_rows must be >= 0, got " + std::to_string(options.sample_rows));
  decoder::validateActivationQuantNames(model);
  State& s = *state_;
  const ModelConfig& mc = model.config;
  const int64_t widest = std::max({mc.hidden_size, mc.intermediate_size, mc.num_heads * seq});
  s.block_cache = std::make_unique<CpuBlockCache::Scope>(
      static_cast<size_t>(32 * std::min(options.batch, num_samples) * seq * widest * 4));
  s.config = model.config;
  s.options = options;
  s.num_samples = num_samples;
  s.seq = seq;
  const at::Tensor positions = model.config.positions == PositionType::Learned
                                   ? decoder::asTorch(model.tensors.at(names::kEmbedPositions))
                                   : at::Tensor();
  s.hidden = decoder::embedTokens(model.config, decoder::asTorch(model.tensors.at(names::kEmbedTokens)), positions,
                                  ids, num_samples, seq);
  s.rope = decoder::rotaryTable(model.config, seq);
  s.causal_bias = decoder::causalBias(seq, 0);
}

LayerwiseForward::~LayerwiseForward() = default;

int64_t LayerwiseForward::nextLayer() const { return state_->next; }
int64_t LayerwiseForward::numLayers() const { return state_->config.num_layers; }

LayerStats LayerwiseForward::collect(const Model& model) {
  c10::InferenceMode guard;
  State& s = *state_;
  s.requireLayerLeft(model, "collect()");
  const ModelConfig& c = s.config;
  const int64_t layer = s.next;
  const decoder::Layer L = decoder::loadLayer(model, layer);
  const std::vector<SiteSpec> specs = layerSites(c, layer);
  const int64_t channels[decoder::kNumSites] = {c.hidden_size, c.num_heads * c.head_dim, c.hidden_size,
                                                c.intermediate_size};
  const int64_t capacity = std::min(s.options.sample_rows, s.num_samples * s.seq);
  std::vector<SiteAccumulator> acc;
  for (int i = 0; i < decoder::kNumSites; ++i)
    acc.emplace_back(layer, static_cast<decoder::Site>(i), channels[i], capacity,
                     s.options.seed + static_cast<uint64_t>(layer) * 1000 + static_cast<uint64_t>(i));
  const decoder::SiteHook hook = [&](decoder::Site site, const at::Tensor& x) {
    acc[static_cast<size_t>(site)].add(x);
  };
  const BfloatAutocast autocast(s.options.bf16);
  s.forEachChunk([&](const at::Tensor& x) {
    const at::Tensor after_attention = x + decoder::selfAttention(c, L, x, s.rope, s.causal_bias, 0, nullptr, &hook);
    decoder::feedForward(c, L, after_attention, &hook);
  });
  LayerStats stats;
  stats.layer = layer;
  for (size_t i = 0; i < acc.size(); ++i) stats.sites.push_back(acc[i].finish(specs[i]));
  return stats;
}

void LayerwiseForward::advance(const Model& model) {
  c10::InferenceMode guard;
  State& s = *state_;
  s.requireLayerLeft(model, "advance()");
  const ModelConfig& c = s.config;
  const decoder::Layer L = decoder::loadLayer(model, s.next);
  const BfloatAutocast autocast(s.options.bf16);
  s.forEachChunk([&](at::Tensor x) {
    x.add_(decoder::selfAttention(c, L, x, s.rope, s.causal_bias));
    x.add_(decoder::feedForward(c, L, x));
    require(at::isfinite(x).all().item<bool>(), nonFiniteMessage(s.next, "output"));
  });
  ++s.next;
}

Tensor LayerwiseForward::hiddenStates() const {
  c10::InferenceMode guard;
  const at::Tensor& h = state_->hidden;
  return Tensor::fromFloats({h.size(0), h.size(1), h.size(2)}, toVector(h));
}

}  // namespace slmc

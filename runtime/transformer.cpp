// The runtime's decoder (see transformer.h). Sections in run.c's order: loading the weights
// from the pack, the building blocks (norm, fake quant, linear, rotary, activations), the
// forward over one chunk of positions, then scoring.
#include "runtime/transformer.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <unordered_map>

#include "lib/support/error.h"
#include "runtime/attention.h"

namespace slmc::runtime {

namespace {

// ---------------------------------------------------------------------------------------------
// Loading: pack tensors → views (matrices) and float32 copies (norms, biases).

class TensorIndex {
 public:
  explicit TensorIndex(const PackFile& pack) : origin_(pack.origin()) {
    for (const PackTensor& t : pack.tensors()) index_[t.name] = &t;
  }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const PackTensor& at(const std::string& name) const {
    const auto it = index_.find(name);
    require(it != index_.end(),
            "pack '" + origin_ + "' has no tensor '" + name + "' (re-export the model with `slmc export`)");
    return *it->second;
  }
  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  std::unordered_map<std::string, const PackTensor*> index_;
};

std::string shapeText(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// A view of a [rows, cols] tensor; a 1-D tensor is one row.
QuantMatrix viewOf(const PackTensor& t, int64_t rows, int64_t cols, const std::string& origin) {
  const bool fits = (t.shape.size() == 2 && t.shape[0] == rows && t.shape[1] == cols) ||
                    (t.shape.size() == 1 && rows == 1 && t.shape[0] == cols);
  require(fits, "tensor '" + t.name + "' of pack '" + origin + "' has shape " + shapeText(t.shape) +
                    " but the config implies [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  QuantMatrix m;
  switch (t.storage) {
    case pack::Storage::F32:
      m = QuantMatrix::float32(rows, cols, reinterpret_cast<const float*>(t.data.data));
      break;
    case pack::Storage::F16:
      m = QuantMatrix::float16(rows, cols, reinterpret_cast<const uint16_t*>(t.data.data));
      break;
    case pack::Storage::BF16:
      m = QuantMatrix::bfloat16(rows, cols, reinterpret_cast<const uint16_t*>(t.data.data));
      break;
    default:
      // The pack's storage is the runtime's type: one table (runtime/weight_type.h).
      m = QuantMatrix::quantized(
          t.storage, rows, cols, t.scheme.group_size, t.scheme.symmetric, reinterpret_cast<const uint8_t*>(t.codes.data),
          reinterpret_cast<const uint16_t*>(t.scales.data), reinterpret_cast<const uint8_t*>(t.zeros.data));
  }
  const std::string problem = checkMatrix(m);
  require(problem.empty(), "tensor '" + t.name + "' of pack '" + origin + "' cannot run: " + problem);
  return m;
}

std::vector<float> floatsOf(const TensorIndex& T, const std::string& name, int64_t n) {
  const QuantMatrix m = viewOf(T.at(name), 1, n, T.origin());
  std::vector<float> out(static_cast<size_t>(n));
  dequantizeRow(m, 0, out.data());
  return out;
}

Norm loadNorm(const TensorIndex& T, const ModelConfig& c, const std::string& prefix) {
  Norm n;
  n.weight = floatsOf(T, prefix + ".weight", c.hidden_size);
  if (c.norm == NormType::LayerNorm) n.bias = floatsOf(T, prefix + ".bias", c.hidden_size);
  return n;
}

Linear loadLinear(const TensorIndex& T, const PackFile& pack, int64_t layer, const std::string& name, int64_t out,
                  int64_t in, bool has_bias) {
  const std::string weight = names::layer(layer, name + ".weight");
  Linear l;
  l.weight = viewOf(T.at(weight), out, in, T.origin());
  if (has_bias) l.bias = floatsOf(T, names::layer(layer, name + ".bias"), out);
  if (const auto it = pack.activationQuant().find(weight); it != pack.activationQuant().end()) {
    const ActivationQuant& q = it->second;
    require(q.bits >= 2 && q.bits <= 16 && (q.dynamic || (std::isfinite(q.scale) && q.scale > 0)),
            "activation quantizer of '" + weight + "' in pack '" + T.origin() +
                "' is invalid (bits 2..16; a static one needs a positive scale)");
    l.input_quant = q;
  }
  return l;
}

// ---------------------------------------------------------------------------------------------
// Building blocks. Each works on n rows of a row-major matrix.

void normRows(const ModelConfig& c, const Norm& nw, const float* x, int64_t n, float* out) {
  const int64_t d = c.hidden_size;
  const float eps = static_cast<float>(c.norm_eps);
  for (int64_t r = 0; r < n; ++r) {
    const float* xr = x + r * d;
    float* o = out + r * d;
    if (c.norm == NormType::RMSNorm) {
      double ss = 0;
      for (int64_t i = 0; i < d; ++i) ss += static_cast<double>(xr[i]) * xr[i];
      const float inv = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(d)) + eps);
      for (int64_t i = 0; i < d; ++i) o[i] = xr[i] * inv * nw.weight[i];
    } else {
      double sum = 0, ss = 0;
      for (int64_t i = 0; i < d; ++i) sum += xr[i];
      const double mean = sum / static_cast<double>(d);
      for (int64_t i = 0; i < d; ++i) ss += (xr[i] - mean) * (xr[i] - mean);
      const float m = static_cast<float>(mean);
      const float inv = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(d)) + eps);
      for (int64_t i = 0; i < d; ++i) o[i] = (xr[i] - m) * inv * nw.weight[i] + nw.bias[i];
    }
  }
}

// q = clamp(round_half_even(x / scale), -2^(b-1), 2^(b-1)-1) · scale; dynamic: per row,
// scale = max|x_row| / (2^(b-1)-1) (a zero row stays zero). std::nearbyint rounds half to even
// in the default rounding mode, as torch.round does.
void fakeQuantizeRows(const ActivationQuant& q, const float* x, int64_t n, int64_t cols, float* out) {
  const float qmax = static_cast<float>(std::ldexp(1.0, q.bits - 1) - 1);
  const float qmin = static_cast<float>(-std::ldexp(1.0, q.bits - 1));
  for (int64_t r = 0; r < n; ++r) {
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    float scale = q.scale, divisor = q.scale;
    if (q.dynamic) {
      float amax = 0;
      for (int64_t i = 0; i < cols; ++i) amax = std::max(amax, std::fabs(xr[i]));
      scale = amax / qmax;
      divisor = scale > 0 ? scale : 1.0f;
    }
    for (int64_t i = 0; i < cols; ++i) o[i] = std::clamp(std::nearbyint(xr[i] / divisor), qmin, qmax) * scale;
  }
}

void addBias(const Linear& l, int64_t n, float* y) {
  if (l.bias.empty()) return;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < l.weight.rows; ++i) y[r * l.weight.rows + i] += l.bias[static_cast<size_t>(i)];
}

// y[n, out] = fq(x)[n, in] · Wᵀ + b. `scratch` holds the fake-quantized input.
void linear(const Linear& l, const float* x, int64_t n, float* y, float* scratch) {
  const float* in = x;
  if (l.input_quant) {
    fakeQuantizeRows(*l.input_quant, x, n, l.weight.cols, scratch);
    in = scratch;
  }
  matmul(l.weight, in, n, y);
  addBias(l, n, y);
}

// ys[j] = linear(*ls[j], x) for linears that read the same x (a layer's q, k and v): one
// shared-input product (kernels.h) unless one of them fake-quantizes its input its own way.
void linearsOfOneInput(std::initializer_list<std::pair<const Linear*, float*>> outputs, const float* x, int64_t n,
                       float* scratch) {
  MatmulOutput products[kMaxSharedProducts];
  int count = 0;
  for (const auto& [l, y] : outputs) {
    if (l->input_quant || count == kMaxSharedProducts) {
      for (const auto& [each, each_y] : outputs) linear(*each, x, n, each_y, scratch);
      return;
    }
    products[count++] = {&l->weight, y};
  }
  matmulShared(products, count, x, n);
  for (const auto& [l, y] : outputs) addBias(*l, n, y);
}

// Hugging Face's rotate-half rotary embedding on one head: pairs (i, i + half) rotate together.
void rotate(float* v, const float* cos, const float* sin, int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const float a = v[i], b = v[i + half];
    v[i] = a * cos[i] - b * sin[i];
    v[i + half] = b * cos[i] + a * sin[i];
  }
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

// SwiGLU's combination, as matmulGated applies it: g ← silu(g) · u.
void siluTimes(float* g, const float* u, int64_t count) {
  for (int64_t k = 0; k < count; ++k) g[k] = silu(g[k]) * u[k];
}

float geluTanh(float x) {
  const float k = static_cast<float>(std::sqrt(2.0 / M_PI));
  return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * (x * x * x))));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Construction: weights, run state, rotary table.

Transformer::Transformer(std::shared_ptr<const PackFile> pack, int64_t max_context)
    : pack_(std::move(pack)), config_(pack_->config()) {
  const ModelConfig& c = config_;
  c.validate();
  const TensorIndex T(*pack_);
  const int64_t h = c.hidden_size, q_dim = c.num_heads * c.head_dim, kv = c.kvDim(), f = c.intermediate_size;
  require(max_context >= 0, "internal: negative context");
  context_ = max_context > 0 ? std::min(max_context, c.max_position_embeddings) : c.max_position_embeddings;

  w_.embed = viewOf(T.at(names::kEmbedTokens), c.vocab_size, h, T.origin());
  if (c.positions == PositionType::Learned)
    w_.positions = viewOf(T.at(names::kEmbedPositions), c.max_position_embeddings, h, T.origin());
  w_.head = c.tie_word_embeddings ? w_.embed : viewOf(T.at(names::kLmHead), c.vocab_size, h, T.origin());
  w_.final_norm = loadNorm(T, c, names::kFinalNorm);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    LayerWeights L;
    L.attn_norm = loadNorm(T, c, names::layer(i, "input_layernorm"));
    L.mlp_norm = loadNorm(T, c, names::layer(i, "post_attention_layernorm"));
    L.q = loadLinear(T, *pack_, i, "self_attn.q_proj", q_dim, h, c.qkv_bias);
    L.k = loadLinear(T, *pack_, i, "self_attn.k_proj", kv, h, c.qkv_bias);
    L.v = loadLinear(T, *pack_, i, "self_attn.v_proj", kv, h, c.qkv_bias);
    L.o = loadLinear(T, *pack_, i, "self_attn.o_proj", h, q_dim, c.o_bias);
    if (c.gatedMlp()) L.gate = loadLinear(T, *pack_, i, "mlp.gate_proj", f, h, c.mlp_bias);
    L.up = loadLinear(T, *pack_, i, "mlp.up_proj", f, h, c.mlp_bias);
    L.down = loadLinear(T, *pack_, i, "mlp.down_proj", h, f, c.mlp_bias);
    w_.layers.push_back(std::move(L));
  }

  const auto rows = [](int64_t cols) { return static_cast<size_t>(kChunk * cols); };
  s_.x.resize(rows(h));
  s_.xn.resize(rows(h));
  s_.xq.resize(rows(std::max({h, q_dim, f})));
  s_.q.resize(rows(q_dim));
  s_.k.resize(rows(kv));
  s_.v.resize(rows(kv));
  s_.att.resize(rows(q_dim));
  s_.proj.resize(rows(h));
  s_.hb.resize(rows(f));
  s_.hb2.resize(rows(f));
  s_.logits.resize(rows(c.vocab_size));
  const size_t cache = static_cast<size_t>(c.num_layers * context_ * kv);
  s_.key_cache.reset(new float[cache]);  // not value-initialised: see transformer.h
  s_.value_cache.reset(new float[cache]);

  if (c.positions == PositionType::Rotary) {
    // As the reference builds it, in float32: inv_freq = 1 / theta^(2j / head_dim), angle = pos · inv_freq.
    const int64_t half = c.head_dim / 2;
    std::vector<float> inv_freq(static_cast<size_t>(half));
    for (int64_t j = 0; j < half; ++j)
      inv_freq[j] =
          1.0f / std::pow(static_cast<float>(c.rope_theta), static_cast<float>(2 * j) / static_cast<float>(c.head_dim));
    s_.rope_cos.resize(static_cast<size_t>(context_ * half));
    s_.rope_sin.resize(static_cast<size_t>(context_ * half));
    for (int64_t p = 0; p < context_; ++p)
      for (int64_t j = 0; j < half; ++j) {
        const float angle = static_cast<float>(p) * inv_freq[j];
        s_.rope_cos[p * half + j] = std::cos(angle);
        s_.rope_sin[p * half + j] = std::sin(angle);
      }
  }
}

Transformer Transformer::open(const std::string& path, int64_t max_context) {
  auto pack = std::make_shared<const PackFile>(PackFile::open(path));
  pack->verify();
  return Transformer(std::move(pack), max_context);
}

int64_t Transformer::weightBytesPerToken() const {
  int64_t bytes = w_.head.weightBytes() + w_.embed.weightBytes() / std::max<int64_t>(1, w_.embed.rows);
  if (config_.positions == PositionType::Learned)
    bytes += w_.positions.weightBytes() / std::max<int64_t>(1, w_.positions.rows);
  for (const LayerWeights& L : w_.layers) {
    for (const Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.up, &L.down}) bytes += l->weight.weightBytes();
    if (config_.gatedMlp()) bytes += L.gate.weight.weightBytes();
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Forward.

const float* Transformer::prefill(const int32_t* ids, int64_t n, float* all_logits) {
  const ModelConfig& c = config_;
  require(n >= 1, "internal: prefill of " + std::to_string(n) + " tokens");
  require(pos_ + n <= context_, "sequence length " + std::to_string(pos_ + n) + " exceeds the model's context of " +
                                    std::to_string(context_) +
                                    " tokens (use a shorter prompt, fewer tokens or a "
                                    "smaller --ctx)");
  for (int64_t i = 0; i < n; ++i)  // the message only when it is needed: this runs per token
    if (ids[i] < 0 || ids[i] >= c.vocab_size)
      throw Error("token id " + std::to_string(ids[i]) + " is outside the vocabulary [0, " +
                  std::to_string(c.vocab_size) + ") (wrong token file for this model?)");
  int64_t last_rows = 0;
  for (int64_t done = 0; done < n; done += kChunk) {
    const int64_t m = std::min(kChunk, n - done);
    forwardChunk(ids + done, m, all_logits != nullptr);
    if (all_logits)
      std::memcpy(all_logits + done * c.vocab_size, s_.logits.data(),
                  static_cast<size_t>(m * c.vocab_size) * sizeof(float));
    last_rows = all_logits ? m : 1;
  }
  return s_.logits.data() + (last_rows - 1) * c.vocab_size;
}

// Positions pos_ .. pos_+n-1 through every layer; logits of the last row (or of all rows).
void Transformer::forwardChunk(const int32_t* ids, int64_t n, bool all_logits) {
  const ModelConfig& c = config_;
  const int64_t h = c.hidden_size, kv = c.kvDim(), hd = c.head_dim, half = hd / 2;
  float* x = s_.x.data();

  // Token embeddings (+ learned positions, read into s_.proj: free until the first layer's o_proj).
  for (int64_t i = 0; i < n; ++i) {
    dequantizeRow(w_.embed, ids[i], x + i * h);
    if (c.positions == PositionType::Learned) {
      dequantizeRow(w_.positions, pos_ + i, s_.proj.data());
      for (int64_t j = 0; j < h; ++j) x[i * h + j] += s_.proj[static_cast<size_t>(j)];
    }
  }

  for (int64_t l = 0; l < c.num_layers; ++l) {
    const LayerWeights& L = w_.layers[static_cast<size_t>(l)];

    // Attention: q, k, v of norm(x); rotary; keys and values into the cache.
    normRows(c, L.attn_norm, x, n, s_.xn.data());
    linearsOfOneInput({{&L.q, s_.q.data()}, {&L.k, s_.k.data()}, {&L.v, s_.v.data()}}, s_.xn.data(), n, s_.xq.data());
    if (c.positions == PositionType::Rotary)
      for (int64_t i = 0; i < n; ++i) {
        const float* cos = s_.rope_cos.data() + (pos_ + i) * half;
        const float* sin = s_.rope_sin.data() + (pos_ + i) * half;
        for (int64_t hh = 0; hh < c.num_heads; ++hh) rotate(s_.q.data() + (i * c.num_heads + hh) * hd, cos, sin, half);
        for (int64_t hh = 0; hh < c.num_kv_heads; ++hh) rotate(s_.k.data() + i * kv + hh * hd, cos, sin, half);
      }
    for (int64_t g = 0; g < c.num_kv_heads; ++g) {
      float* key_cache = s_.key_cache.get() + ((l * c.num_kv_heads + g) * context_ + pos_) * hd;
      float* value_cache = s_.value_cache.get() + ((l * c.num_kv_heads + g) * context_ + pos_) * hd;
      for (int64_t i = 0; i < n; ++i) {
        std::memcpy(key_cache + i * hd, s_.k.data() + i * kv + g * hd, static_cast<size_t>(hd) * sizeof(float));
        std::memcpy(value_cache + i * hd, s_.v.data() + i * kv + g * hd, static_cast<size_t>(hd) * sizeof(float));
      }
    }
    attention(l, n);
    linear(L.o, s_.att.data(), n, s_.proj.data(), s_.xq.data());
    for (int64_t i = 0; i < n * h; ++i) x[i] += s_.proj[static_cast<size_t>(i)];

    // MLP: SwiGLU (Llama) or GELU-tanh (GPT-2) on norm(x).
    normRows(c, L.mlp_norm, x, n, s_.xn.data());
    const int64_t f = c.intermediate_size;
    if (c.gatedMlp() && !L.gate.input_quant && !L.up.input_quant && L.gate.bias.empty() && L.up.bias.empty()) {
      matmulGated(L.gate.weight, L.up.weight, s_.xn.data(), n, s_.hb.data(), s_.hb2.data(), siluTimes);
    } else if (c.gatedMlp()) {
      linear(L.gate, s_.xn.data(), n, s_.hb.data(), s_.xq.data());
      linear(L.up, s_.xn.data(), n, s_.hb2.data(), s_.xq.data());
      siluTimes(s_.hb.data(), s_.hb2.data(), n * f);
    } else {
      linear(L.up, s_.xn.data(), n, s_.hb.data(), s_.xq.data());
      for (int64_t i = 0; i < n * f; ++i) s_.hb[i] = geluTanh(s_.hb[i]);
    }
    linear(L.down, s_.hb.data(), n, s_.proj.data(), s_.xq.data());
    for (int64_t i = 0; i < n * h; ++i) x[i] += s_.proj[static_cast<size_t>(i)];
  }

  // Final norm and the head: every row, or only the last.
  const int64_t first = all_logits ? 0 : n - 1, rows = n - first;
  normRows(c, w_.final_norm, x + first * h, rows, s_.xn.data());
  matmul(w_.head, s_.xn.data(), rows, s_.logits.data());
  pos_ += n;
}

// Causal attention of the chunk's n queries (positions pos_ .. pos_+n-1) over the cache; query
// head hh reads kv head hh / (num_heads / num_kv_heads). Output in s_.att [n, q_dim].
void Transformer::attention(int64_t layer, int64_t n) {
  const ModelConfig& c = config_;
  const int64_t nh = c.num_heads, hd = c.head_dim, rep = nh / c.num_kv_heads;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  const float* keys = s_.key_cache.get() + layer * c.num_kv_heads * context_ * hd;
  const float* values = s_.value_cache.get() + layer * c.num_kv_heads * context_ * hd;
  const int threads = omp_get_max_threads();
  if (static_cast<int64_t>(s_.scores.size()) < threads * context_)
    s_.scores.resize(static_cast<size_t>(threads * context_));
  const int64_t work = n * nh * (pos_ + n) * hd;
  const int64_t tasks = n * nh;
#pragma omp parallel for schedule(static) if (work > 32 * 1024)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t i = task / nh, hh = task % nh, g = hh / rep;
    float* scores = s_.scores.data() + static_cast<int64_t>(omp_get_thread_num()) * context_;
    attendHead(s_.q.data() + (i * nh + hh) * hd, keys + g * context_ * hd, values + g * context_ * hd, hd, pos_ + i + 1,
               hd, scale, scores, s_.att.data() + (i * nh + hh) * hd);
  }
}

// ---------------------------------------------------------------------------------------------
// Scoring.

double tokenNll(const float* logits, int64_t vocab, int32_t target) {
  float max_logit = logits[0];
  for (int64_t i = 1; i < vocab; ++i) max_logit = std::max(max_logit, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - max_logit);
  return std::log(sum) + max_logit - static_cast<double>(logits[target]);
}

double windowNll(Transformer& model, const int32_t* ids, int64_t begin, int64_t end, int64_t score_from) {
  const int64_t vocab = model.config().vocab_size;
  std::vector<float> logits(static_cast<size_t>(Transformer::kChunk * vocab));
  model.reset();
  double sum = 0;
  for (int64_t p = begin; p < end - 1; p += Transformer::kChunk) {
    const int64_t m = std::min(Transformer::kChunk, end - 1 - p);  // the last token predicts nothing
    model.prefill(ids + p, m, logits.data());
    for (int64_t r = 0; r < m; ++r) {
      const int64_t target = p + r + 1;
      if (target >= score_from) sum += tokenNll(logits.data() + r * vocab, vocab, ids[target]);
    }
  }
  return sum;
}

void setRuntimeThreads(int n) {
  if (n > 0) omp_set_num_threads(n);
}

int runtimeThreads() { return omp_get_max_threads(); }

}  // namespace slmc::runtime

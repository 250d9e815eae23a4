#include "lib/reference/reference_model.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "lib/reference/reference_decoder_torch.h"
#include "lib/support/error.h"

namespace slmc {

ReferenceModel::ReferenceModel(const Model& model, ReferencePrecision precision)
    : config_(model.config), precision_(precision), weights_(std::make_unique<Weights>()) {
  const ModelConfig& c = config_;
  decoder::validateActivationQuantNames(model);
  Weights& w = *weights_;
  w.embed = decoder::asTorch(model.tensors.at(names::kEmbedTokens));
  if (c.positions == PositionType::Learned) w.positions = decoder::asTorch(model.tensors.at(names::kEmbedPositions));
  w.head = c.tie_word_embeddings ? w.embed : decoder::asTorch(model.tensors.at(names::kLmHead));
  w.final_norm = decoder::loadNorm(model, names::kFinalNorm);
  for (int64_t i = 0; i < c.num_layers; ++i) w.layers.push_back(decoder::loadLayer(model, i));
  if (precision == ReferencePrecision::Float64) {
    // Copies of every weight in float64; the forward then runs in float64 throughout.
    const auto up = [](at::Tensor& t) {
      if (t.defined()) t = t.to(at::kDouble);
    };
    for (at::Tensor* t : {&w.embed, &w.positions, &w.head, &w.final_norm.weight, &w.final_norm.bias}) up(*t);
    for (decoder::Layer& L : w.layers) {
      for (decoder::Norm* n : {&L.input_norm, &L.post_norm}) {
        up(n->weight);
        up(n->bias);
      }
      for (decoder::Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) {
        up(l->weight);
        up(l->bias);
      }
    }
  }
}

ReferenceModel::~ReferenceModel() = default;

Tensor ReferenceModel::logits(const std::vector<int32_t>& ids, int64_t batch, int64_t seq) const {
  c10::InferenceMode guard;
  const at::Tensor out = at::matmul(decoder::forwardHidden(config_, *weights_, ids, batch, seq), weights_->head.t())
                             .to(at::kFloat)
                             .contiguous();
  std::vector<float> values(static_cast<size_t>(out.numel()));
  std::memcpy(values.data(), out.data_ptr<float>(), values.size() * sizeof(float));
  return Tensor::fromFloats({batch, seq, config_.vocab_size}, std::move(values));
}

std::vector<float> ReferenceModel::nextTokenNll(const std::vector<int32_t>& ids, int64_t batch, int64_t seq) const {
  c10::InferenceMode guard;
  require(seq >= 2, "need at least 2 tokens per sequence to score a next token");
  const at::Tensor hidden = decoder::forwardHidden(config_, *weights_, ids, batch, seq)
                                .narrow(1, 0, seq - 1)
                                .reshape({batch * (seq - 1), -1});
  const at::Tensor targets = at::from_blob(const_cast<int32_t*>(ids.data()), {batch, seq}, at::kInt)
                                 .narrow(1, 1, seq - 1)
                                 .reshape({batch * (seq - 1)})
                                 .to(at::kLong);
  // -log p(target) = logsumexp(logits) - logits[target], over row chunks so that at most
  // kRows x vocab logits exist at once (a 32k vocabulary would otherwise dominate memory).
  constexpr int64_t kRows = 512;
  const int64_t rows = hidden.size(0);
  std::vector<float> out(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; r += kRows) {
    const int64_t n = std::min(kRows, rows - r);
    const at::Tensor logits = at::matmul(hidden.narrow(0, r, n), weights_->head.t());
    const at::Tensor target_logit = logits.gather(1, targets.narrow(0, r, n).unsqueeze(1)).squeeze(1);
    const at::Tensor nll = (at::logsumexp(logits, 1) - target_logit).to(at::kFloat).contiguous();
    std::memcpy(out.data() + r, nll.data_ptr<float>(), static_cast<size_t>(n) * sizeof(float));
  }
  return out;
}

double ReferenceModel::forwardFlops(int64_t batch, int64_t seq) const {
  const ModelConfig& c = config_;
  const double tokens = static_cast<double>(batch * seq);
  const double q = static_cast<double>(c.num_heads * c.head_dim), kv = static_cast<double>(c.kvDim());
  const double h = static_cast<double>(c.hidden_size), f = static_cast<double>(c.intermediate_size);
  const double per_token_linear = h * (q + 2 * kv) + q * h + (c.gatedMlp() ? 3 : 2) * h * f;
  double scored = 0;  // query-key pairs the blocked causal attention computes
  for (const AttentionBlock& b : causalAttentionBlocks(seq)) scored += static_cast<double>(b.rows * b.keys);
  const double attention = 2.0 * static_cast<double>(batch * c.num_heads) * scored * c.head_dim;  // QK^T and PV
  return 2.0 * (tokens * per_token_linear * c.num_layers + attention * c.num_layers +
                tokens * h * static_cast<double>(c.vocab_size));
}

void setComputeThreads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
}

int computeThreads() { return at::get_num_threads(); }

}  // namespace slmc

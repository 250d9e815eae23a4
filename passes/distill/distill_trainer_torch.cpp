// The training loop of distill_trainer.h. One step: batch × accumulation sequences in a seeded
// order, the teacher's logits without gradients, the student's with, the weighted loss backward,
// global-norm clipping, AdamW at the warmup+cosine rate. Everything the step reads (weights,
// moments, step count, data cursor, RNG) is what a checkpoint saves, so a resumed run repeats
// the same arithmetic.
#include <ATen/Parallel.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include "lib/reference/bf16_autocast_torch.h"
#include "lib/reference/cpu_block_cache.h"
#include "lib/reference/reference_model.h"
#include "lib/reference/self_generated.h"
#include "lib/support/crc32.h"
#include "lib/support/error.h"
#include "passes/distill/distill_checkpoint.h"
#include "passes/distill/distill_memory.h"
#include "passes/distill/distill_torch.h"
#include "passes/distill/distill_trainer.h"
#include "passes/distill/lr_schedule.h"
#include "passes/distill/teacher_cache.h"

namespace slmc {

using nlohmann::json;
using namespace distill;

namespace {

// Which training sequences come next: a seeded shuffle per epoch, consumed in order.
struct DataCursor {
  std::mt19937_64 rng;
  std::vector<int64_t> order;
  int64_t epoch = 0, position = 0;

  void shuffle(int64_t count) {
    order.resize(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) order[static_cast<size_t>(i)] = i;
    for (int64_t i = count - 1; i > 0; --i)  // Fisher–Yates with the raw 64-bit draws: the same on every platform
      std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(rng() % static_cast<uint64_t>(i + 1))]);
  }
  int64_t next() {
    if (position == static_cast<int64_t>(order.size())) {
      shuffle(static_cast<int64_t>(order.size()));
      ++epoch;
      position = 0;
    }
    return order[static_cast<size_t>(position++)];
  }
  json toJson() const {
    std::ostringstream r;
    r << rng;
    return {{"rng", r.str()}, {"order", order}, {"epoch", epoch}, {"position", position}};
  }
  void fromJson(const json& j) {
    std::istringstream r(j.at("rng").get<std::string>());
    r >> rng;
    order = j.at("order").get<std::vector<int64_t>>();
    epoch = j.at("epoch").get<int64_t>();
    position = j.at("position").get<int64_t>();
  }
};

// The summed next-token NLL and the token count over this rank's share (every world_size-th,
// from its rank) of sequences [first, first + count) of `data`.
std::pair<double, double> heldoutNll(const ModelConfig& config, const decoder::Weights& weights, const DistillData& data,
                                     int64_t first, int64_t count, int64_t batch, int64_t rank, int64_t world_size) {
  at::NoGradGuard no_grad;
  double nll = 0, tokens = 0;
  for (const std::vector<int64_t>& which : rankShareBatches(first, count, batch, rank, world_size)) {
    const int64_t n = static_cast<int64_t>(which.size());
    const std::vector<int32_t> ids = sequenceRows(data, which);
    const at::Tensor logits = decoderLogits(config, weights, ids, n, data.seq_len).narrow(1, 0, data.seq_len - 1);
    const at::Tensor targets = at::from_blob(const_cast<int32_t*>(ids.data()), {n, data.seq_len}, at::kInt)
                                   .narrow(1, 1, data.seq_len - 1)
                                   .to(at::kLong);
    const at::Tensor log_p = at::log_softmax(logits.reshape({-1, config.vocab_size}), -1);
    nll -= log_p.gather(1, targets.reshape({-1, 1})).sum().item<double>();
    tokens += static_cast<double>(n * (data.seq_len - 1));
  }
  return {nll, tokens};
}

// exp(mean next-token NLL) over sequences [first, first + count) of `data`, the ranks of
// `group` each scoring their share.
double heldoutPerplexity(const ModelConfig& config, const decoder::Weights& weights, const DistillData& data,
                         int64_t first, int64_t count, int64_t batch, DataParallel& group) {
  const auto [nll, tokens] = heldoutNll(config, weights, data, first, count, batch, group.rank(), group.worldSize());
  std::vector<double> sums{nll, tokens};
  group.sum(sums, "measuring the held-out perplexity");
  return std::exp(sums[0] / sums[1]);
}

// Test hook for the data-parallel failure path: SLMC_TEST_KILL_RANK_AT_STEP="R:S" kills rank R
// (SIGKILL, as the OOM killer or a lost machine would) when it starts step S.
void killedForTestAt(int64_t rank, int64_t step) {
  const char* spec = std::getenv("SLMC_TEST_KILL_RANK_AT_STEP");
  if (spec == nullptr) return;
  long long r = -1, s = -1;
  if (std::sscanf(spec, "%lld:%lld", &r, &s) == 2 && r == rank && s == step) std::raise(SIGKILL);
}

Tensor toTensor(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kFloat).contiguous();
  std::vector<float> values(static_cast<size_t>(c.numel()));
  std::memcpy(values.data(), c.data_ptr<float>(), values.size() * sizeof(float));
  return Tensor::fromFloats(Shape(c.sizes().begin(), c.sizes().end()), std::move(values));
}

json configFingerprint(const ModelConfig& c) {
  return {{"layers", c.num_layers}, {"hidden", c.hidden_size}, {"intermediate", c.intermediate_size},
          {"heads", c.num_heads},   {"kv_heads", c.num_kv_heads}, {"vocab", c.vocab_size}};
}

// What must match for a checkpoint to continue this run: the options that shape the arithmetic,
// the models' shapes and the data.
json runFingerprint(const Model& student, const Model& teacher, const DistillData& data, const DistillOptions& o) {
  json j = {{"steps", o.steps},
          {"batch", o.batch},
          {"accumulation", o.accumulation},
          {"lr", o.lr},
          {"final_lr_fraction", o.final_lr_fraction},
          {"warmup", o.warmup},
          {"weight_decay", o.weight_decay},
          {"betas", {o.beta1, o.beta2}},
          {"epsilon", o.epsilon},
          {"clip", o.clip},
          {"loss", {{"forward_kl", o.loss.forward_kl},
                    {"reverse_kl", o.loss.reverse_kl},
                    {"cross_entropy", o.loss.cross_entropy},
                    {"temperature", o.loss.temperature}}},
          {"heldout", o.heldout},
          {"generate", o.generate},
          {"seed", o.seed},
          {"qat", o.qat},
          {"student", configFingerprint(student.config)},
          {"teacher", configFingerprint(teacher.config)},
          {"sequences", data.num_sequences},
          {"seq_len", data.seq_len},
          {"data_crc32c", crc32c(data.ids.data(), data.ids.size() * sizeof(int32_t))}};
  if (!o.teacher_cache.empty()) j["teacher_top_k"] = o.teacher_top_k;  // the loss is to the top k
  if (o.loss.hidden())
    j["hidden"] = {{"mse", o.loss.hidden_mse}, {"cosine", o.loss.hidden_cosine}, {"layers", o.hidden_layers}};
  return j;
}

// What a teacher cache must have been made from to serve this run: the teacher (shapes and a
// checksum of its weights), the data given, the sequences generated from it, k and the
// temperature its probabilities are at.
json teacherCacheFingerprint(const Model& teacher, const DistillData& given, const DistillOptions& o) {
  uint32_t weights = 0;
  for (const auto& [name, t] : teacher.tensors) weights = crc32c(t.bytes(), t.nbytes(), weights);
  return {{"schema", kTeacherCacheSchema},
          {"teacher", configFingerprint(teacher.config)},
          {"teacher_weights_crc32c", weights},
          {"data_sequences", given.num_sequences},
          {"data_crc32c", crc32c(given.ids.data(), given.ids.size() * sizeof(int32_t))},
          {"generate", o.generate},
          {"generate_seed", o.generate > 0 ? o.seed : 0},
          {"sequences", given.num_sequences + o.generate},
          {"seq_len", given.seq_len},
          {"k", o.teacher_top_k},
          {"temperature", o.loss.temperature}};
}

void checkSetup(const Model& student, const Model& teacher, const DistillData& data, const DistillOptions& o,
                const DistillMemoryEstimate& memory) {
  require(student.config.vocab_size == teacher.config.vocab_size,
          "teacher and student have different vocabularies (" + std::to_string(teacher.config.vocab_size) + " vs " +
              std::to_string(student.config.vocab_size) +
              " tokens): distillation matches next-token distributions, so both must share one tokenizer");
  require(data.seq_len >= 2, "distillation sequences need at least 2 tokens (raise --seq-len)");
  for (const Model* m : {&student, &teacher})
    require(data.seq_len <= m->config.max_position_embeddings,
            "sequences of " + std::to_string(data.seq_len) + " tokens exceed the " +
                (m == &student ? std::string("student") : std::string("teacher")) + "'s context of " +
                std::to_string(m->config.max_position_embeddings) + " (use a smaller --seq-len)");
  require(o.steps > 0 && o.batch > 0 && o.accumulation > 0, "distillation needs steps, batch and accumulation >= 1");
  require(o.loss.temperature > 0, "distillation temperature must be > 0");
  require(o.loss.forward_kl != 0 || o.loss.reverse_kl != 0 || o.loss.cross_entropy != 0 || o.loss.hidden(),
          "every distillation loss weight is 0 (set kl, reverse_kl, ce, hidden_mse and/or hidden_cosine)");
  require(o.teacher_cache.empty() || !o.loss.hidden(),
          "hidden-state losses need the teacher's layers, and the teacher cache keeps only its top-k output "
          "(drop hidden_mse / hidden_cosine, or the teacher cache)");
  if (o.loss.hidden()) hiddenLayerPairs(o.hidden_layers, student.config.num_layers, teacher.config.num_layers);
  require(o.heldout >= 1, "distillation needs at least 1 held-out sequence to measure the student (heldout >= 1)");
  require(o.generate >= 0, "distillation cannot generate " + std::to_string(o.generate) + " sequences (use 0 or more)");
  const int64_t sequences = data.num_sequences + o.generate;
  const int64_t per_step = o.batch * o.accumulation, train = sequences - o.heldout;
  require(train >= per_step, "too little data for one distillation step: " + std::to_string(sequences) +
                                 " sequences of " + std::to_string(data.seq_len) + " tokens, " +
                                 std::to_string(o.heldout) + " held out, leave " + std::to_string(std::max<int64_t>(0, train)) +
                                 " for training but one step takes batch x accumulation = " +
                                 std::to_string(per_step) + " (give more --data / --samples, or lower batch)");
  require((o.checkpoint_every == 0 && o.stop_after == 0) || !o.checkpoint_dir.empty() || !o.resume.empty(),
          "checkpoint_every and stop_after need a checkpoint directory (checkpoint_dir, or resume's)");
  require(o.stop_after >= 0 && o.stop_after <= o.steps, "stop_after must be within [0, steps]");
  require(o.teacher_cache.empty() || o.loss.reverse_kl == 0,
          "reverse KL needs the teacher's whole distribution, and the teacher cache keeps its top " +
              std::to_string(o.teacher_top_k) + " tokens (drop reverse_kl, or the teacher cache)");
  require(o.teacher_cache.empty() || (o.teacher_top_k >= 1 && o.teacher_top_k <= teacher.config.vocab_size),
          "teacher_top_k=" + std::to_string(o.teacher_top_k) + " must be between 1 and the vocabulary's " +
              std::to_string(teacher.config.vocab_size) + " tokens");
  const DataParallelGroup& g = o.parallel;
  require(o.batch % g.world_size == 0,
          "a batch of " + std::to_string(o.batch) + " sequences does not split over " + std::to_string(g.world_size) +
              " data-parallel ranks (give a batch that is a multiple of the rank count: each rank trains on batch / "
              "ranks sequences of every micro-batch)");
  requireDistillMemory(memory, availableMemoryBytes(), o.batch / g.world_size, data.seq_len, g.local_world_size);
}

constexpr int64_t kGenerateBatch = 8;  // teacher sequences sampled per batch

// The training sequences: options.generate sequences the teacher samples from BOS, then `data`
// (whose last sequences are the held-out ones). The ranks each sample every world_size-th batch
// and sum the rows, so every rank ends with the single process's sequences.
DistillData withTeacherText(const ReferenceModel& teacher, const DistillData& data, const DistillOptions& o,
                            DataParallel& group, const DistillCallbacks& callbacks) {
  if (o.generate == 0) return data;
  ReferenceModel::SamplingOptions sampling;
  sampling.seed = o.seed;
  std::vector<int32_t> generated = generateFromBos(teacher, o.generate, data.seq_len, kGenerateBatch, sampling,
                                                   callbacks.on_generate, group.rank(), group.worldSize());
  if (group.worldSize() > 1) {
    at::Tensor rows = at::from_blob(generated.data(), {static_cast<int64_t>(generated.size())}, at::kInt);
    group.sum(rows, "gathering the teacher-generated sequences");
  }
  DistillData all{std::move(generated), data.num_sequences + o.generate, data.seq_len};
  all.ids.insert(all.ids.end(), data.ids.begin(), data.ids.end());
  if (callbacks.log)
    callbacks.log("distill: " + std::to_string(o.generate) + " sequences of " + std::to_string(data.seq_len) +
                  " tokens sampled from the teacher");
  return all;
}

// The teacher's top-k cache for this run (options.teacher_cache): read when the file exists and
// was made for this run (else one Error naming the field that differs), else made by one teacher
// pass over every sequence (teacher-generated ones first, as withTeacherText), the ranks each
// doing their share, and written by rank 0. `read` tells which.
TeacherTopK teacherCacheFor(const ReferenceModel& teacher_model, const Model& teacher, const DistillData& given,
                            const DistillOptions& o, DataParallel& group, const DistillCallbacks& callbacks,
                            bool& read) {
  const json fingerprint = teacherCacheFingerprint(teacher, given, o);
  const std::string& path = o.teacher_cache;
  if (std::filesystem::exists(path)) {
    TeacherTopK cache = readTeacherCache(path);
    const std::string diff = fingerprintDifference(cache.fingerprint, fingerprint);
    require(diff.empty(), "teacher cache '" + path + "' was made for another run: " + diff +
                              " (give another --teacher-cache path, or delete it to rebuild)");
    read = true;
    return cache;
  }
  read = false;
  const DistillData data = withTeacherText(teacher_model, given, o, group, callbacks);
  TeacherTopK cache = teacherTopK(teacher.config, teacher_model.weights(), data, o.teacher_top_k, o.loss.temperature,
                                  std::max<int64_t>(1, o.batch / group.worldSize()), group, callbacks.on_teacher_pass);
  cache.fingerprint = fingerprint;
  if (group.rank() == 0) writeTeacherCache(path, cache);
  return cache;
}

}  // namespace

DistillOutcome distillModel(Model& student, const Model& teacher, const DistillData& given,
                            const DistillOptions& options, const DistillCallbacks& callbacks) {
  validateDataParallelGroup(options.parallel);
  // What one rank holds: its share of each micro-batch (checkSetup refuses a batch that does not split).
  const int64_t local_batch = std::max<int64_t>(1, options.batch / options.parallel.world_size);
  const DistillMemoryEstimate memory =
      estimateDistillMemory(student, teacher, local_batch, given.seq_len, options.qat, options.recompute);
  checkSetup(student, teacher, given, options, memory);
  const auto log = [&](const std::string& line) {
    if (callbacks.log) callbacks.log(line);
  };
  const json fingerprint = runFingerprint(student, teacher, given, options);
  // Read before any work: a checkpoint of another run must not cost a teacher pass first.
  std::optional<DistillCheckpoint> resumed;
  if (!options.resume.empty()) {
    resumed = readDistillCheckpoint(options.resume);
    const std::string diff = fingerprintDifference(resumed->state.value("fingerprint", json::object()), fingerprint);
    require(diff.empty(), "checkpoint '" + options.resume + "' belongs to another run: " + diff +
                              " (resume with the options and data it was written with, or start without resume)");
  }

  // Every rank has checked the same setup; joining blocks until all of them have.
  DataParallel group(options.parallel);
  const bool writes_checkpoints = group.rank() == 0;
  const ReferenceModel teacher_model(teacher);
  // Each step's logit-sized tensors reuse the previous step's blocks (lib/reference/cpu_block_cache.h);
  // at most a micro-batch's activation estimate is kept cached.
  const CpuBlockCache::Scope block_cache(static_cast<size_t>(memory.activations));
  std::optional<TeacherTopK> cache;
  DistillData data;
  const auto cache_start = std::chrono::steady_clock::now();
  bool cache_read = false;
  double cache_seconds = 0;
  if (options.teacher_cache.empty()) {
    data = withTeacherText(teacher_model, given, options, group, callbacks);
  } else {
    cache = teacherCacheFor(teacher_model, teacher, given, options, group, callbacks, cache_read);
    data = DistillData{cache->input_ids, cache->sequences, cache->seq_len};
    cache_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - cache_start).count();
    char line[256];
    std::snprintf(line, sizeof line, "distill: teacher top-%lld cache of %lld sequences %s '%s' (%.1f s)",
                  static_cast<long long>(options.teacher_top_k), static_cast<long long>(cache->sequences),
                  cache_read ? "read from" : "written to", options.teacher_cache.c_str(), cache_seconds);
    if (callbacks.log) callbacks.log(line);
  }
  const int64_t train_count = data.num_sequences - options.heldout, seq = data.seq_len;
  TrainableStudent s = makeTrainableStudent(student, options.qat);
  // What AdamW trains: the student's leaves, then the hidden-state projections (checkpointed
  // with them, never part of the output model).
  std::optional<HiddenStateMatch> hidden;
  if (options.loss.hidden()) hidden = makeHiddenStateMatch(s.config, teacher.config, options.hidden_layers);
  std::vector<std::pair<std::string, at::Tensor>> trained = s.parameters;
  std::vector<bool> decayed = s.decayed;
  if (hidden)
    for (size_t i = 0; i < hidden->projections.size(); ++i) {
      trained.emplace_back("distill.hidden_projection." + std::to_string(i), hidden->projections[i]);
      decayed.push_back(false);
    }
  std::vector<at::Tensor> params;
  for (const auto& [name, p] : trained) params.push_back(p);
  AdamW optimizer(params, decayed, options);
  DataCursor cursor;
  cursor.rng.seed(options.seed);
  cursor.shuffle(train_count);

  DistillOutcome out;
  out.tokens_per_step = options.batch * options.accumulation * seq;
  out.ranks = group.worldSize();
  if (cache) {
    out.teacher_cache = {{"path", options.teacher_cache},
                         {"k", options.teacher_top_k},
                         {"sequences", cache->sequences},
                         {"read", cache_read},
                         {"seconds", cache_seconds}};
  }
  int64_t step = 0;
  if (resumed) {
    const json& st = resumed->state;
    step = st.at("step").get<int64_t>();
    std::map<std::string, Tensor> weights(resumed->weights.begin(), resumed->weights.end());
    std::map<std::string, Tensor> moments(resumed->optimizer.begin(), resumed->optimizer.end());
    std::vector<at::Tensor> exp_avg, exp_avg_sq;
    at::NoGradGuard no_grad;
    for (const auto& [name, p] : trained) {
      const auto w = weights.find(name);
      const auto m = moments.find(name + ".exp_avg"), v = moments.find(name + ".exp_avg_sq");
      require(w != weights.end() && m != moments.end() && v != moments.end(),
              "checkpoint '" + options.resume + "' lacks tensor '" + name + "' (it was written for another student)");
      p.copy_(decoder::asTorch(w->second).view(p.sizes()));
      exp_avg.push_back(decoder::asTorch(m->second).view(p.sizes()).clone());
      exp_avg_sq.push_back(decoder::asTorch(v->second).view(p.sizes()).clone());
    }
    optimizer.restore(st.at("optimizer_steps").get<int64_t>(), std::move(exp_avg), std::move(exp_avg_sq));
    cursor.fromJson(st.at("data"));
    for (const json& r : st.at("curve")) out.curve.push_back(stepFromJson(r));
    for (const json& e : st.at("evals")) out.evals.push_back({e.at("step"), e.at("perplexity")});
    out.resumed_from = step;
    log("distill: resumed from step " + std::to_string(step) + " of " + std::to_string(options.steps) + " ('" +
        options.resume + "')");
  }

  const int64_t eval_batch = local_batch;
  out.teacher_perplexity =
      heldoutPerplexity(teacher.config, teacher_model.weights(), data, train_count, options.heldout, eval_batch, group);
  const auto evaluate = [&](int64_t at_step) {
    at::NoGradGuard no_grad;  // the fake-quantized weights too: bind() records nothing here
    const double ppl = heldoutPerplexity(s.config, s.bind(), data, train_count, options.heldout, eval_batch, group);
    out.evals.push_back({at_step, ppl});
    char line[160];
    std::snprintf(line, sizeof line, "distill: step %lld/%lld held-out perplexity %.4f (teacher %.4f)",
                  static_cast<long long>(at_step), static_cast<long long>(options.steps), ppl, out.teacher_perplexity);
    log(line);
  };
  if (!resumed) evaluate(0);

  const std::string checkpoint_dir = options.checkpoint_dir.empty() ? options.resume : options.checkpoint_dir;
  const auto checkpoint = [&] {
    DistillCheckpoint c;
    json curve = json::array(), evals = json::array();
    for (const DistillStep& r : out.curve) curve.push_back(stepJson(r));
    for (const DistillEval& e : out.evals) evals.push_back({{"step", e.step}, {"perplexity", e.perplexity}});
    c.state = {{"step", step},         {"optimizer_steps", optimizer.steps()}, {"fingerprint", fingerprint},
               {"data", cursor.toJson()}, {"curve", curve},                     {"evals", evals}};
    for (size_t i = 0; i < trained.size(); ++i) {
      const std::string& name = trained[i].first;
      c.weights.emplace_back(name, toTensor(trained[i].second));
      c.optimizer.emplace_back(name + ".exp_avg", toTensor(optimizer.expAvg(i)));
      c.optimizer.emplace_back(name + ".exp_avg_sq", toTensor(optimizer.expAvgSq(i)));
    }
    if (writes_checkpoints) writeDistillCheckpoint(checkpoint_dir, c);  // every rank holds the same state
    out.last_checkpoint = checkpoint_dir;
    log("distill: checkpoint at step " + std::to_string(step) + " in '" + checkpoint_dir + "'");
  };

  const auto start = std::chrono::steady_clock::now();
  int64_t tokens_trained = 0;
  const int64_t last_step = options.stop_after > 0 ? options.stop_after : options.steps;
  while (step < last_step) {
    const double lr = warmupCosineLr(step, options.steps, options.warmup, options.lr, options.final_lr_fraction);
    ++step;
    DistillStep record;
    record.step = step;
    record.lr = lr;
    killedForTestAt(group.rank(), step);
    for (int64_t micro = 0; micro < options.accumulation; ++micro) {
      // The micro-batch is the same `batch` sequences on every rank; each trains on its slice.
      std::vector<int64_t> which;
      for (int64_t i = 0; i < options.batch; ++i) {
        const int64_t next = cursor.next();
        if (i / local_batch == group.rank()) which.push_back(next);
      }
      const std::vector<int32_t> ids = sequenceRows(data, which);
      std::vector<at::Tensor> student_layers, teacher_layers;
      at::Tensor student_logits, teacher_logits;
      {
        // The forward passes only: the losses are taken in float32, and the backward runs
        // outside autocast (a recomputed layer restores it for its own forward).
        const BfloatAutocast autocast(options.bf16);
        student_logits = decoderLogits(s.config, s.bind(), ids, local_batch, seq, hidden ? &student_layers : nullptr,
                                       options.recompute)
                             .to(at::kFloat);
        if (!cache) {
          at::NoGradGuard no_grad;
          teacher_logits = decoderLogits(teacher.config, teacher_model.weights(), ids, local_batch, seq,
                                         hidden ? &teacher_layers : nullptr)
                               .to(at::kFloat);
        }
      }
      const at::Tensor id_tensor =
          at::from_blob(const_cast<int32_t*>(ids.data()), {local_batch, seq}, at::kInt).to(at::kLong);
      LossTerms terms = cache ? distillLossTopK(student_logits, cachedTopIds(*cache, which),
                                                cachedTopLogProbs(*cache, which), id_tensor, options.loss)
                              : distillLoss(student_logits, teacher_logits, id_tensor, options.loss);
      // This rank's share of the step's mean; the sum over ranks below makes the whole.
      const double share = 1.0 / static_cast<double>(options.accumulation * group.worldSize());
      if (hidden) {
        const auto [mse, cosine] = hiddenStateLosses(*hidden, student_layers, teacher_layers);
        const at::Tensor weighted = options.loss.hidden_mse * mse + options.loss.hidden_cosine * cosine;
        terms.total = terms.total.defined() ? terms.total + weighted : weighted;
        record.hidden_mse += share * mse.item<double>();
        record.hidden_cosine += share * cosine.item<double>();
      }
      // A non-finite loss only poisons gradients that are never applied: the check below stops first.
      (terms.total / static_cast<double>(options.accumulation)).backward();
      record.loss += share * terms.total.item<double>();
      record.forward_kl += share * terms.forward_kl.item<double>();
      record.reverse_kl += share * terms.reverse_kl.item<double>();
      record.cross_entropy += share * terms.cross_entropy.item<double>();
    }
    std::vector<double> figures{record.loss,         record.forward_kl, record.reverse_kl,
                                record.cross_entropy, record.hidden_mse, record.hidden_cosine};
    group.sum(figures, "step " + std::to_string(step));
    record.loss = figures[0], record.forward_kl = figures[1], record.reverse_kl = figures[2];
    record.cross_entropy = figures[3], record.hidden_mse = figures[4], record.hidden_cosine = figures[5];
    require(std::isfinite(record.loss),
            "distillation loss is " + std::string(std::isnan(record.loss) ? "NaN" : "infinite") + " at step " +
                std::to_string(step) + " (lower lr, now " + std::to_string(options.lr) + ", or raise warmup)" +
                (out.last_checkpoint.empty() ? std::string()
                                             : "; the last good checkpoint '" + out.last_checkpoint + "' is kept"));
    group.averageGradients(params);
    record.grad_norm = clipGradNorm(params, options.clip);
    optimizer.step(lr);
    s.project();
    {
      at::NoGradGuard no_grad;
      for (at::Tensor& p : params)
        if (p.grad().defined()) p.mutable_grad().zero_();
    }
    out.curve.push_back(record);
    tokens_trained += out.tokens_per_step;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (callbacks.on_step) callbacks.on_step(record, options.steps, elapsed > 0 ? tokens_trained / elapsed : 0);
    if ((options.eval_every > 0 && step % options.eval_every == 0) || step == last_step) evaluate(step);
    if (!checkpoint_dir.empty() &&
        ((options.checkpoint_every > 0 && step % options.checkpoint_every == 0) || step == last_step))
      checkpoint();
  }
  out.steps_done = step;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.tokens_per_second = out.seconds > 0 ? static_cast<double>(tokens_trained) / out.seconds : 0;
  // Sparse weights kept their masks (Model::sparsity still holds); weights trained through the
  // grid come back quantized on their schemes.
  copyStudentInto(s, student);
  return out;
}

}  // namespace slmc

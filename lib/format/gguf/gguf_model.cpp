#include "lib/format/gguf/gguf_model.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <vector>

#include "lib/format/gguf/gguf_dequantize.h"
#include "lib/format/gguf/gguf_file.h"
#include "lib/format/gguf/gguf_types.h"
#include "lib/model/config_bounds.h"
#include "lib/model/tensor_ops.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"

namespace slmc::gguf {

namespace {

// GGUF per-layer tensor stems and their Hugging Face counterparts (convert_hf_to_gguf.py's
// tensor map for LLaMA, read backwards).
struct LayerTensorName {
  const char* gguf;
  const char* hf;
};
constexpr LayerTensorName kLayerTensors[] = {
    {"attn_q", "self_attn.q_proj"},     {"attn_k", "self_attn.k_proj"},  {"attn_v", "self_attn.v_proj"},
    {"attn_output", "self_attn.o_proj"}, {"ffn_gate", "mlp.gate_proj"},  {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},       {"attn_norm", "input_layernorm"}, {"ffn_norm", "post_attention_layernorm"},
};

std::string required(const GgufFile& f, const std::string& key) {
  return f.path() + ": missing metadata '" + key + "' (is this a llama.cpp GGUF of a llama model?)";
}

int64_t requiredInt(const GgufFile& f, const std::string& key) {
  const auto v = f.getInt(key);
  require(v.has_value(), required(f, key));
  return *v;
}

double requiredFloat(const GgufFile& f, const std::string& key) {
  const auto v = f.getFloat(key);
  require(v.has_value(), required(f, key));
  // A float32 widened exactly: SmolLM2's config.json, written from this metadata, holds
  // 9.999999747378752e-06 for the 1e-5 epsilon too.
  return *v;
}

ModelConfig llamaConfig(const GgufFile& f) {
  const std::string& p = f.path();
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.model_type = "llama";
  c.num_layers = requiredInt(f, "llama.block_count");
  c.hidden_size = requiredInt(f, "llama.embedding_length");
  c.intermediate_size = requiredInt(f, "llama.feed_forward_length");
  c.num_heads = requiredInt(f, "llama.attention.head_count");
  c.num_kv_heads = f.getInt("llama.attention.head_count_kv").value_or(c.num_heads);
  c.max_position_embeddings = requiredInt(f, "llama.context_length");
  c.norm_eps = requiredFloat(f, "llama.attention.layer_norm_rms_epsilon");
  if (const auto theta = f.getFloat("llama.rope.freq_base")) c.rope_theta = *theta;
  require(c.num_heads > 0 && c.hidden_size > 0, p + ": llama.attention.head_count and llama.embedding_length "
                                                    "must be positive");
  c.head_dim = f.getInt("llama.attention.key_length").value_or(c.hidden_size / c.num_heads);
  if (const auto v = f.getInt("llama.attention.value_length"))
    require(*v == c.head_dim, p + ": llama.attention.value_length " + std::to_string(*v) +
                                  " differs from key_length " + std::to_string(c.head_dim) +
                                  "; slmc's decoder needs equal key and value head sizes");
  if (const auto rope_dims = f.getInt("llama.rope.dimension_count"))
    require(*rope_dims == c.head_dim, p + ": llama.rope.dimension_count is " + std::to_string(*rope_dims) +
                                          " but the head size is " + std::to_string(c.head_dim) +
                                          "; slmc's decoder rotates whole heads (partial rotary is not supported)");
  if (const auto scaling = f.getString("llama.rope.scaling.type"))
    require(*scaling == "none", p + ": llama.rope.scaling.type is '" + *scaling +
                                    "'; slmc's decoder has no RoPE scaling (use a model without it)");
  if (const auto experts = f.getInt("llama.expert_count"))
    require(*experts == 0, p + ": llama.expert_count is " + std::to_string(*experts) +
                               ": mixture-of-experts models are not supported");
  if (const auto bos = f.getInt("tokenizer.ggml.bos_token_id")) c.bos_token_id = *bos;
  if (const auto eos = f.getInt("tokenizer.ggml.eos_token_id")) c.eos_token_id = *eos;

  const TensorInfo* embed = f.findTensor("token_embd.weight");
  require(embed != nullptr, p + ": missing tensor 'token_embd.weight' (the token embedding)");
  require(embed->ne.size() == 2, p + ": tensor 'token_embd.weight' is not 2-dimensional");
  c.vocab_size = embed->ne[1];
  if (const auto vocab = f.getInt("llama.vocab_size"))
    require(*vocab == c.vocab_size, p + ": llama.vocab_size is " + std::to_string(*vocab) + " but token_embd has " +
                                        std::to_string(c.vocab_size) + " rows");
  const std::vector<std::string> tokens = f.getStringArray("tokenizer.ggml.tokens");
  require(tokens.empty() || static_cast<int64_t>(tokens.size()) <= c.vocab_size,
          p + ": tokenizer.ggml.tokens holds " + std::to_string(tokens.size()) + " tokens but token_embd has only " +
              std::to_string(c.vocab_size) + " rows");
  c.tie_word_embeddings = f.findTensor("output.weight") == nullptr;
  // Sizes bounded by the tensors the file holds before validateModel lists what they imply.
  uint64_t tensor_bytes = 0;
  for (const TensorInfo& t : f.tensors()) tensor_bytes += t.bytes;
  checkConfigFitsWeights(c, f.tensors().size(), tensor_bytes, p,
                         {"llama.block_count", "llama.embedding_length", "llama.feed_forward_length", "vocabulary"});
  c.validate();
  return c;
}

// What import does with one file tensor.
struct Job {
  const TensorInfo* info;
  std::string name;       // Hugging Face name
  int64_t rotary_heads;   // > 0: q/k projection to permute back to rotate-half with this many heads
  Tensor result;
};

Tensor convert(const TensorInfo& t, int64_t rotary_heads, const std::string& path) {
  Shape shape(t.ne.rbegin(), t.ne.rend());  // GGUF lists ne[0] (columns) first
  Tensor out;
  if (t.type == kGgmlF16 || t.type == kGgmlBF16)
    out = Tensor::copyOf(t.type == kGgmlF16 ? DType::F16 : DType::BF16, shape, t.data);
  else
    out = Tensor::fromFloats(shape, dequantizeTensor(t));
  if (rotary_heads > 0) {
    require(shape.size() == 2 && shape[0] % (2 * rotary_heads) == 0,
            path + ": tensor '" + t.name + "' has shape " + shapeString(shape) + ", which does not split into " +
                std::to_string(rotary_heads) + " heads of even size");
    out = interleavedToHalfRotary(out, rotary_heads);
  }
  return out;
}

// Converts every job, in parallel over tensors (each is independent) when there is enough data to
// be worth threads; rethrows the first error.
void runJobs(std::vector<Job>& jobs, const std::string& path) {
  size_t bytes = 0;
  for (const Job& j : jobs) bytes += j.info->bytes;
  const unsigned threads =
      bytes < (size_t{1} << 22) ? 1u : std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 16));
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(jobs.size());
  const auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      try {
        jobs[i].result = convert(*jobs[i].info, jobs[i].rotary_heads, path);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads && t < jobs.size(); ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace

std::optional<std::string> hfTensorName(const std::string& g) {
  if (g == "token_embd.weight") return std::string(names::kEmbedTokens);
  if (g == "output_norm.weight") return std::string(names::kFinalNorm) + ".weight";
  if (g == "output.weight") return std::string(names::kLmHead);
  if (!startsWith(g, "blk.")) return std::nullopt;
  const size_t dot = g.find('.', 4);
  if (dot == std::string::npos || dot == 4 || dot > 4 + 9) return std::nullopt;
  const std::string index = g.substr(4, dot - 4);
  if (!std::all_of(index.begin(), index.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) return std::nullopt;
  if (index.size() > 1 && index[0] == '0') return std::nullopt;
  const std::string rest = g.substr(dot + 1);
  for (const auto& t : kLayerTensors)
    if (rest == std::string(t.gguf) + ".weight") return "model.layers." + index + "." + t.hf + ".weight";
  return std::nullopt;
}

std::optional<std::string> ggufTensorName(const std::string& hf) {
  if (hf == names::kEmbedTokens) return std::string("token_embd.weight");
  if (hf == std::string(names::kFinalNorm) + ".weight") return std::string("output_norm.weight");
  if (hf == names::kLmHead) return std::string("output.weight");
  const std::string prefix = "model.layers.";
  if (!startsWith(hf, prefix)) return std::nullopt;
  const size_t dot = hf.find('.', prefix.size());
  if (dot == std::string::npos) return std::nullopt;
  const std::string index = hf.substr(prefix.size(), dot - prefix.size());
  const std::string rest = hf.substr(dot + 1);
  for (const auto& t : kLayerTensors)
    if (rest == std::string(t.hf) + ".weight") {
      const std::string g = "blk." + index + "." + t.gguf + ".weight";
      if (hfTensorName(g) == hf) return g;  // the index is a plain decimal, as in the reader
    }
  return std::nullopt;
}

Model ggufToModel(const GgufFile& f) {
  const std::string& p = f.path();
  const auto arch = f.getString("general.architecture");
  require(arch.has_value(), required(f, "general.architecture"));
  require(*arch == "llama", p + ": GGUF architecture '" + *arch + "' is not supported yet; slmc reads llama");
  Model m;
  m.source = p;
  m.config = llamaConfig(f);

  std::vector<Job> jobs;
  for (const TensorInfo& t : f.tensors()) {
    if (t.name == "rope_freqs.weight")
      throw Error(p + ": tensor 'rope_freqs.weight' holds RoPE frequency factors (Llama 3 style rope scaling), "
                      "which slmc's decoder does not apply");
    const auto name = hfTensorName(t.name);
    require(name.has_value(), p + ": tensor '" + t.name + "' is not part of a llama model as slmc reads it "
                                  "(expected token_embd, output_norm, output and blk.N.{attn_q,attn_k,attn_v,"
                                  "attn_output,attn_norm,ffn_gate,ffn_up,ffn_down,ffn_norm})");
    const bool q = endsWith(t.name, ".attn_q.weight"), k = endsWith(t.name, ".attn_k.weight");
    jobs.push_back({&t, *name, q ? m.config.num_heads : k ? m.config.num_kv_heads : 0, Tensor()});
  }
  runJobs(jobs, p);
  for (Job& j : jobs) {
    m.tensors.set(j.name, std::move(j.result));
    if (!isFloatGgmlType(j.info->type)) m.dequantized_from_source.insert(j.name);
  }
  return inCanonicalOrder(m);
}

std::set<std::string> quantizedTensorNames(const std::string& path) {
  const auto file = GgufFile::open(path);
  std::set<std::string> names;
  for (const TensorInfo& t : file->tensors())
    if (!isFloatGgmlType(t.type))
      if (const auto name = hfTensorName(t.name)) names.insert(*name);
  return names;
}

Model loadGgufModel(const std::string& path) {
  const auto file = GgufFile::open(path);
  return ggufToModel(*file);
}

}  // namespace slmc::gguf

#include "lib/format/llama2c.h"

#include <cstring>
#include <limits>
#include <fstream>

#include "lib/model/config_bounds.h"
#include "lib/model/tensor_ops.h"
#include "lib/support/error.h"
#include "lib/support/mapped_file.h"

namespace slmc {

namespace {

constexpr uint32_t kMagic = 0x616b3432;  // "ak42" little-endian
constexpr size_t kVersionedHeaderBytes = 256;

struct Header {
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

// The first header field outside what a llama2.c checkpoint can hold, as "n_layers 5000 (expected
// 1..1024)"; empty when every field is plausible.
std::string implausibleField(const Header& h) {
  const int64_t vocab = h.vocab_size < 0 ? -int64_t{h.vocab_size} : int64_t{h.vocab_size};
  const struct {
    const char* name;
    int64_t value, hi;
  } fields[] = {{"dim", h.dim, 1 << 16},         {"hidden_dim", h.hidden_dim, 1 << 18}, {"n_layers", h.n_layers, 1024},
                {"n_heads", h.n_heads, 1024},    {"n_kv_heads", h.n_kv_heads, 1024},    {"vocab_size", vocab, 1 << 22},
                {"seq_len", h.seq_len, 1 << 22}};
  for (const auto& f : fields)
    if (f.value < 1 || f.value > f.hi)
      return std::string(f.name) + " " + std::to_string(f.value) + " (expected 1.." + std::to_string(f.hi) + ")";
  if (h.dim % h.n_heads != 0)
    return "dim " + std::to_string(h.dim) + " (not a multiple of n_heads " + std::to_string(h.n_heads) + ")";
  return "";
}

bool plausible(const Header& h) { return implausibleField(h).empty(); }

// Slices consecutive float32 blocks out of the mapped file, checking bounds as it goes.
class Cursor {
 public:
  Cursor(std::shared_ptr<const MappedFile> file, size_t offset) : file_(std::move(file)), offset_(offset) {}
  Tensor take(Shape shape) {
    const size_t n = static_cast<size_t>(shapeNumel(shape)) * 4;
    require(offset_ + n <= file_->size(), file_->path() + ": truncated: the weights end at byte " +
                                              std::to_string(file_->size()) + " but the header implies at least " +
                                              std::to_string(offset_ + n) + " (re-download or re-export the file)");
    const std::byte* p = file_->data() + offset_;
    offset_ += n;
    return Tensor(DType::F32, std::move(shape), file_, p);
  }
  void skip(size_t floats) { take({static_cast<int64_t>(floats)}); }
  size_t offset() const { return offset_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  size_t offset_;
};

// llama2.c stacks each weight kind over layers; slmc names them per layer.
void addLayered(Model& m, Cursor& c, const std::string& name, Shape per_layer) {
  for (int64_t i = 0; i < m.config.num_layers; ++i) m.tensors.set(names::layer(i, name), c.take(per_layer));
}

void permuteRotary(Model& m, const std::string& name, int64_t heads) {
  for (int64_t i = 0; i < m.config.num_layers; ++i) {
    const std::string key = names::layer(i, name);
    m.tensors.set(key, interleavedToHalfRotary(m.tensors.at(key), heads));
  }
}

}  // namespace

bool looksLikeLlama2c(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Header h{};
  uint32_t magic = 0;
  if (!in.read(reinterpret_cast<char*>(&magic), 4)) return false;
  if (magic == kMagic) return true;
  in.seekg(0);
  return in.read(reinterpret_cast<char*>(&h), sizeof h) && plausible(h);
}

Model loadLlama2c(const std::string& path) {
  auto file = MappedFile::open(path);
  require(file->size() >= sizeof(Header), path + ": truncated: " + std::to_string(file->size()) +
                                              " bytes is shorter than a llama2.c header");
  uint32_t magic;
  std::memcpy(&magic, file->data(), 4);
  Header h{};
  size_t offset = sizeof(Header);
  bool shared_classifier = false;
  int32_t version = 0;
  if (magic == kMagic) {
    require(file->size() >= kVersionedHeaderBytes, path + ": truncated llama2.c header");
    std::memcpy(&version, file->data() + 4, 4);
    require(version == 1, path + ": llama2.c format version " + std::to_string(version) +
                              " is not supported (slmc reads the float32 versions 0 and 1; re-export with "
                              "export.py --version 1)");
    std::memcpy(&h, file->data() + 8, sizeof h);
    shared_classifier = static_cast<uint8_t>(file->data()[8 + sizeof h]) != 0;
    offset = kVersionedHeaderBytes;
  } else {
    std::memcpy(&h, file->data(), sizeof h);
    shared_classifier = h.vocab_size > 0;
    // INT32_MIN has no positive counterpart (its negation is undefined): keep it, and let the
    // plausibility check below refuse it.
    if (h.vocab_size < 0 && h.vocab_size != std::numeric_limits<int32_t>::min()) h.vocab_size = -h.vocab_size;
  }
  const std::string bad_field = implausibleField(h);
  require(bad_field.empty(), "'" + path + "' is not a model slmc can read: as a llama2.c checkpoint its header's " +
                                 bad_field + " is implausible (a damaged file, or not a llama2.c .bin; re-export it "
                                 "with llama2.c's export.py)");
  require(h.n_heads % h.n_kv_heads == 0, path + ": the llama2.c header's n_heads " + std::to_string(h.n_heads) +
                                             " is not a multiple of n_kv_heads " + std::to_string(h.n_kv_heads) +
                                             " (a damaged file; re-export it)");

  Model m;
  m.source = path;
  ModelConfig& c = m.config;
  c.architecture = "LlamaForCausalLM";
  c.model_type = "llama";
  c.hidden_size = h.dim;
  c.intermediate_size = h.hidden_dim;
  c.num_layers = h.n_layers;
  c.num_heads = h.n_heads;
  c.num_kv_heads = h.n_kv_heads;
  c.head_dim = h.dim / h.n_heads;
  c.vocab_size = h.vocab_size;
  c.max_position_embeddings = h.seq_len;
  c.norm_eps = 1e-5;  // llama2.c's RMSNorm epsilon
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = shared_classifier;
  c.validate();
  checkConfigFitsWeights(c, std::numeric_limits<uint64_t>::max(), file->size() - offset, path,
                         {"n_layers", "dim", "hidden_dim", "vocab_size"});

  const int64_t dim = h.dim, hidden = h.hidden_dim, kv = c.kvDim(), vocab = h.vocab_size;
  Cursor cur(file, offset);
  if (version == 0) {
    m.tensors.set(names::kEmbedTokens, cur.take({vocab, dim}));
    addLayered(m, cur, "input_layernorm.weight", {dim});
    addLayered(m, cur, "self_attn.q_proj.weight", {dim, dim});
    addLayered(m, cur, "self_attn.k_proj.weight", {kv, dim});
    addLayered(m, cur, "self_attn.v_proj.weight", {kv, dim});
    addLayered(m, cur, "self_attn.o_proj.weight", {dim, dim});
    addLayered(m, cur, "post_attention_layernorm.weight", {dim});
    addLayered(m, cur, "mlp.gate_proj.weight", {hidden, dim});
    addLayered(m, cur, "mlp.down_proj.weight", {dim, hidden});
    addLayered(m, cur, "mlp.up_proj.weight", {hidden, dim});
    m.tensors.set(std::string(names::kFinalNorm) + ".weight", cur.take({dim}));
    cur.skip(static_cast<size_t>(h.seq_len) * static_cast<size_t>(c.head_dim));  // freq_cis real + imag
  } else {
    addLayered(m, cur, "input_layernorm.weight", {dim});
    addLayered(m, cur, "post_attention_layernorm.weight", {dim});
    m.tensors.set(std::string(names::kFinalNorm) + ".weight", cur.take({dim}));
    m.tensors.set(names::kEmbedTokens, cur.take({vocab, dim}));
    addLayered(m, cur, "self_attn.q_proj.weight", {dim, dim});
    addLayered(m, cur, "self_attn.k_proj.weight", {kv, dim});
    addLayered(m, cur, "self_attn.v_proj.weight", {kv, dim});
    addLayered(m, cur, "self_attn.o_proj.weight", {dim, dim});
    addLayered(m, cur, "mlp.gate_proj.weight", {hidden, dim});
    addLayered(m, cur, "mlp.down_proj.weight", {dim, hidden});
    addLayered(m, cur, "mlp.up_proj.weight", {hidden, dim});
  }
  if (!shared_classifier) m.tensors.set(names::kLmHead, cur.take({vocab, dim}));
  require(cur.offset() == file->size(),
          path + ": " + std::to_string(file->size() - cur.offset()) +
              " bytes follow the last weight the header implies (wrong header or not a llama2.c file)");
  permuteRotary(m, "self_attn.q_proj.weight", c.num_heads);
  permuteRotary(m, "self_attn.k_proj.weight", c.num_kv_heads);

  // llama2.c stacks each kind over layers; per-layer (canonical) order makes exports read naturally.
  return inCanonicalOrder(m);
}

}  // namespace slmc

#include "lib/format/gguf/gguf_export.h"

#include <filesystem>
#include <map>

#include "lib/format/gguf/gguf_encode.h"
#include "lib/format/gguf/gguf_file.h"
#include "lib/format/gguf/gguf_model.h"
#include "lib/format/gguf/gguf_tokenizer_from_hf.h"
#include "lib/format/gguf/gguf_types.h"
#include "lib/format/pack_writer.h"
#include "lib/model/tensor_ops.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"

namespace slmc::gguf {

namespace fs = std::filesystem;

namespace {

// llama.cpp's llama_ftype for the type most weights have (general.file_type).
uint32_t fileType(const std::map<std::string, int>& weight_types) {
  static const std::map<std::string, uint32_t> kFileTypes = {
      {"F32", 0}, {"F16", 1}, {"Q4_0", 2}, {"Q4_1", 3}, {"Q8_0", 7}, {"Q5_0", 8}, {"BF16", 32}};
  std::string most = "F32";
  int count = -1;
  for (const auto& [type, n] : weight_types)
    if (n > count) most = type, count = n;
  return kFileTypes.at(most);
}

void checkArchitecture(const ModelConfig& c) {
  const std::string what = "llama.cpp's llama architecture";
  require(c.family == ArchFamily::Llama && c.norm == NormType::RMSNorm && c.activation == Activation::SiLU &&
              c.positions == PositionType::Rotary,
          "cannot export a " + std::string(familyName(c.family)) + "-family model (" + c.architecture + ") as GGUF: " +
              what + " needs RMSNorm, SwiGLU and rotary positions (export it with --format hf)");
  require(!c.qkv_bias && !c.o_bias && !c.mlp_bias,
          "cannot export " + c.architecture + " as GGUF: " + what +
              " has no linear biases (Qwen2-style q/k/v biases are not exported yet; use --format hf)");
  require(c.head_dim % 2 == 0, "cannot export as GGUF: the head size " + std::to_string(c.head_dim) +
                                   " is odd; rotary layouts need pairs");
}

void writeConfig(GgufWriter& w, const Model& model) {
  const ModelConfig& c = model.config;
  w.setString("general.architecture", "llama");
  std::string name = fs::path(model.source).filename().string();
  if (name.empty()) name = fs::path(model.source).parent_path().filename().string();
  w.setString("general.name", name.empty() ? "slmc model" : name);
  w.setUInt32("llama.vocab_size", static_cast<uint32_t>(c.vocab_size));
  w.setUInt32("llama.context_length", static_cast<uint32_t>(c.max_position_embeddings));
  w.setUInt32("llama.embedding_length", static_cast<uint32_t>(c.hidden_size));
  w.setUInt32("llama.block_count", static_cast<uint32_t>(c.num_layers));
  w.setUInt32("llama.feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
  w.setUInt32("llama.rope.dimension_count", static_cast<uint32_t>(c.head_dim));
  w.setUInt32("llama.attention.head_count", static_cast<uint32_t>(c.num_heads));
  w.setUInt32("llama.attention.head_count_kv", static_cast<uint32_t>(c.num_kv_heads));
  if (c.head_dim * c.num_heads != c.hidden_size) {  // llama.cpp's default is n_embd / n_head
    w.setUInt32("llama.attention.key_length", static_cast<uint32_t>(c.head_dim));
    w.setUInt32("llama.attention.value_length", static_cast<uint32_t>(c.head_dim));
  }
  w.setFloat32("llama.rope.freq_base", static_cast<float>(c.rope_theta));
  w.setFloat32("llama.attention.layer_norm_rms_epsilon", static_cast<float>(c.norm_eps));
}

void writeTokenizer(GgufWriter& w, GgufTokenizerMetadata t, const ModelConfig& c) {
  const int64_t n = static_cast<int64_t>(t.tokens.size());
  require(n <= c.vocab_size, "the tokenizer has " + std::to_string(n) + " tokens but the model's embedding only " +
                                 std::to_string(c.vocab_size) + " rows; pass the model's own tokenizer with --tokenizer");
  // llama.cpp wants one token per embedding row: pad as convert_hf_to_gguf.py does.
  if (n < c.vocab_size && t.token_types.empty()) t.token_types.assign(static_cast<size_t>(n), kTokenNormal);
  for (int64_t id = n; id < c.vocab_size; ++id) {
    t.tokens.push_back("[PAD" + std::to_string(id) + "]");
    t.token_types.push_back(kTokenUnused);
    if (!t.scores.empty()) t.scores.push_back(-1000.0f);
  }
  if (t.bos_id < 0 && c.bos_token_id >= 0 && c.bos_token_id < c.vocab_size) t.bos_id = c.bos_token_id;
  if (t.eos_id < 0 && c.eos_token_id >= 0 && c.eos_token_id < c.vocab_size) t.eos_id = c.eos_token_id;
  w.setString("tokenizer.ggml.model", t.model);
  if (!t.pre.empty()) w.setString("tokenizer.ggml.pre", t.pre);
  w.setStringArray("tokenizer.ggml.tokens", std::move(t.tokens));
  if (!t.token_types.empty()) w.setIntArray("tokenizer.ggml.token_type", ValueType::Int32, std::move(t.token_types));
  if (!t.scores.empty()) w.setFloat32Array("tokenizer.ggml.scores", t.scores);
  if (!t.merges.empty()) w.setStringArray("tokenizer.ggml.merges", std::move(t.merges));
  for (const auto& [key, id] : {std::pair<const char*, int64_t>{"tokenizer.ggml.bos_token_id", t.bos_id},
                                {"tokenizer.ggml.eos_token_id", t.eos_id},
                                {"tokenizer.ggml.unknown_token_id", t.unk_id},
                                {"tokenizer.ggml.padding_token_id", t.pad_id}})
    if (id >= 0) w.setUInt32(key, static_cast<uint32_t>(id));
  if (t.add_bos) w.setBool("tokenizer.ggml.add_bos_token", *t.add_bos);
  if (t.add_eos) w.setBool("tokenizer.ggml.add_eos_token", *t.add_eos);
  if (t.add_space_prefix) w.setBool("tokenizer.ggml.add_space_prefix", *t.add_space_prefix);
  if (!t.chat_template.empty()) w.setString("tokenizer.chat_template", t.chat_template);
}

uint32_t floatType(DType d) {
  switch (d) {
    case DType::F32: return kGgmlF32;
    case DType::F16: return kGgmlF16;
    case DType::BF16: return kGgmlBF16;
    default: throw Error("internal: GGUF float type of " + std::string(dtypeName(d)));
  }
}

}  // namespace

GgufExport buildGgufExport(const Model& model, const GgufTokenizerMetadata* tokenizer, const GgufExportOptions& options) {
  const ModelConfig& c = model.config;
  checkArchitecture(c);
  GgufExport out;
  if (!model.activation_quant.empty()) {
    const std::string what = std::to_string(model.activation_quant.size()) +
                             " activation quantizers (W8A8) have no GGUF form: llama.cpp runs the weights with its "
                             "own activation rounding";
    require(!options.exact, "--exact: " + what + "; drop --exact to export the weights");
    out.warnings.push_back(what);
  }
  writeConfig(out.writer, model);
  if (tokenizer) writeTokenizer(out.writer, *tokenizer, c);

  std::map<std::string, int> weight_types;  // 2-D tensors only, for general.file_type
  bool any_quantized = false;
  for (const auto& [name, tensor] : model.tensors) {
    const std::optional<std::string> gguf_name = ggufTensorName(name);
    require(gguf_name.has_value(), "tensor '" + name + "' has no name in llama.cpp's llama architecture");
    const bool q_proj = endsWith(name, ".self_attn.q_proj.weight"), k_proj = endsWith(name, ".self_attn.k_proj.weight");
    const int64_t rotary_heads = q_proj ? c.num_heads : k_proj ? c.num_kv_heads : 0;
    std::vector<int64_t> ne(tensor.shape().rbegin(), tensor.shape().rend());
    GgufTensorRecord record;
    record.name = name;
    record.gguf_name = *gguf_name;

    uint32_t type = 0;
    Tensor stored;  // what goes to the file, in HF row order: floats, or [rows, row bytes] of blocks
    const auto quantized = model.quantized.find(name);
    if (quantized != model.quantized.end()) {
      const QuantizedTensor& q = *quantized->second;
      GgmlEncoding e = encodeForGguf(q);
      record.source = schemeName(q.scheme);
      record.exact = e.exact;
      record.max_abs_error = e.max_abs_error;
      record.rms_error = e.rms_error;
      record.reason = e.reason;
      require(e.exact || !options.exact, "--exact: tensor '" + name + "': " + e.reason +
                                             " (max |error| " + std::to_string(e.max_abs_error) +
                                             "); drop --exact to accept the re-encoding");
      type = e.type;
      any_quantized = any_quantized || type != kGgmlF32;
      stored = Tensor::copyOf(DType::U8, {q.rows, static_cast<int64_t>(e.bytes.size()) / q.rows}, e.bytes.data());
    } else {
      require(traits(tensor.dtype()).is_float, "tensor '" + name + "' is " + dtypeName(tensor.dtype()) +
                                                   ", not a float type GGUF holds");
      record.source = dtypeName(tensor.dtype());
      stored = tensor.shape().size() == 1 ? tensor.to(DType::F32) : tensor;
      type = floatType(stored.dtype());
    }
    if (rotary_heads > 0) {
      require(stored.shape().size() == 2 && stored.dim(0) % (2 * rotary_heads) == 0,
              "tensor '" + name + "' of shape " + shapeString(tensor.shape()) + " does not split into " +
                  std::to_string(rotary_heads) + " heads of even size");
      stored = halfToInterleavedRotary(stored, rotary_heads);
    }
    record.ggml_type = ggmlType(type).name;
    if (ne.size() == 2) ++weight_types[record.ggml_type];
    const std::byte* data = stored.bytes();
    const size_t bytes = stored.nbytes();
    out.writer.addTensor(*gguf_name, type, std::move(ne), std::make_shared<Tensor>(stored), data, bytes);
    if (!record.exact)
      out.warnings.push_back("tensor '" + name + "' re-encoded: " + record.reason + ", max |error| " +
                             std::to_string(record.max_abs_error));
    out.tensors.push_back(std::move(record));
  }
  out.writer.setUInt32("general.file_type", fileType(weight_types));
  if (any_quantized) out.writer.setUInt32("general.quantization_version", 2);  // GGML_QNT_VERSION
  return out;
}

GgufExportability ggufExportability(const Model& model) {
  GgufExportability e;
  try {
    const GgufExport out = buildGgufExport(model, nullptr, {});
    std::map<std::string, int> types;
    size_t reencoded = 0;
    for (const GgufTensorRecord& t : out.tensors) {
      ++types[t.ggml_type];
      reencoded += !t.exact;
    }
    std::string mix;
    for (const auto& [type, n] : types) mix += (mix.empty() ? "" : ", ") + std::to_string(n) + " " + type;
    e.possible = true;
    e.exact = reencoded == 0 && model.activation_quant.empty();
    e.detail = (reencoded == 0 ? "exact: " : std::to_string(reencoded) + " of " + std::to_string(out.tensors.size()) +
                                                 " tensors re-encoded: ") + mix;
    if (!model.activation_quant.empty()) e.detail += "; activation quantizers dropped";
  } catch (const Error& err) {
    e.detail = err.what();
  }
  return e;
}

std::optional<GgufTokenizerMetadata> ggufTokenizerFor(const Model& model, const std::string& override_path,
                                                      std::string& origin) {
  std::error_code ec;
  const std::string& gguf_source = !override_path.empty() ? override_path : model.source;
  if (!gguf_source.empty() && fs::is_regular_file(gguf_source, ec) && looksLikeGguf(gguf_source)) {
    origin = gguf_source;
    return tokenizerMetadata(*GgufFile::open(gguf_source));  // the keys as they are
  }
  std::string tokenizer_json, tokenizer_config;
  for (const EmbeddedFile& f : tokenizerFilesFor(model, override_path)) {
    if (f.name == "tokenizer.json" || (!override_path.empty() && endsWith(f.name, ".json") && tokenizer_json.empty()))
      tokenizer_json = f.bytes;
    if (f.name == "tokenizer_config.json") tokenizer_config = f.bytes;
  }
  if (tokenizer_json.empty()) {
    require(override_path.empty(), "--tokenizer '" + override_path +
                                       "': a GGUF export reads a tokenizer.json or a .gguf's tokenizer");
    return std::nullopt;
  }
  if (!override_path.empty()) {
    const fs::path beside = fs::path(override_path).parent_path() / "tokenizer_config.json";
    if (fs::is_regular_file(beside, ec)) tokenizer_config = readTextFile(beside.string());
  }
  origin = !override_path.empty() ? override_path : model.source;
  return ggufTokenizerFromHf(tokenizer_json, tokenizer_config, origin);
}

}  // namespace slmc::gguf

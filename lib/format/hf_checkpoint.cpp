#include "lib/format/hf_checkpoint.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>

#include "lib/format/compressed_tensors.h"
#include "lib/format/gguf/gguf_file.h"
#include "lib/format/gguf/gguf_tokenizer.h"
#include "lib/format/gptq_checkpoint.h"
#include "lib/format/quantized_checkpoint.h"
#include "lib/format/safetensors.h"
#include "lib/model/config_bounds.h"
#include "lib/model/sparsity_record.h"
#include "lib/model/tensor_ops.h"
#include "lib/support/atomic_file.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"
#include "lib/support/join_text.h"
#include "lib/support/temp_paths.h"

namespace slmc {

namespace fs = std::filesystem;

namespace {

bool isFile(const std::string& path) { return fs::is_regular_file(path); }

// Files of a Hugging Face directory that describe the tokenizer and generation defaults.
const char* const kTokenizerFiles[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                       "tokenizer.model", "generation_config.json"};

// Checkpoint buffers that transformers recomputes and slmc does not need.
bool isIgnoredBuffer(const std::string& name) {
  return endsWith(name, "rotary_emb.inv_freq") || endsWith(name, ".attn.bias") || endsWith(name, ".attn.masked_bias");
}

// GPT-2 names with or without the "transformer." prefix map onto the canonical layout.
void importGpt2(const ModelConfig& c, std::vector<std::pair<std::string, Tensor>>& raw, TensorMap& out) {
  const int64_t h = c.hidden_size;
  for (auto& [name, t] : raw) {
    std::string n = startsWith(name, "transformer.") ? name.substr(12) : name;
    if (isIgnoredBuffer(n)) continue;
    if (n == "wte.weight") {
      out.set(names::kEmbedTokens, t);
    } else if (n == "wpe.weight") {
      out.set(names::kEmbedPositions, t);
    } else if (startsWith(n, "ln_f.")) {
      out.set(std::string(names::kFinalNorm) + n.substr(4), t);
    } else if (n == "lm_head.weight") {
      if (!c.tie_word_embeddings) out.set(names::kLmHead, t);
    } else if (startsWith(n, "h.")) {
      const size_t dot = n.find('.', 2);
      const std::string index = n.substr(2, dot == std::string::npos ? std::string::npos : dot - 2);
      require(dot != std::string::npos && !index.empty() && index.find_first_not_of("0123456789") == std::string::npos,
              "unexpected GPT-2 tensor '" + name + "' (expected h.<layer>.<name>)");
      const int64_t layer = std::stoll(index);
      const std::string rest = n.substr(dot + 1);
      const auto L = [&](const std::string& s) { return names::layer(layer, s); };
      const bool weight = endsWith(rest, ".weight");
      const std::string kind = weight ? ".weight" : ".bias";
      if (startsWith(rest, "ln_1.")) {
        out.set(L("input_layernorm" + kind), t);
      } else if (startsWith(rest, "ln_2.")) {
        out.set(L("post_attention_layernorm" + kind), t);
      } else if (startsWith(rest, "attn.c_attn.")) {
        // Conv1D: weight [h, 3h] (in, out) → [3h, h]; bias [3h]; split into q, k, v.
        require(t.shape().size() == (weight ? 2u : 1u) && t.shape().back() == 3 * h,
                "tensor '" + name + "' has shape " + shapeString(t.shape()) + ", expected a fused q/k/v of " +
                    std::to_string(3 * h) + " outputs");
        const Tensor rows = weight ? transpose2d(t) : Tensor(t.dtype(), {3 * h, 1}, nullptr, t.bytes());
        const char* parts[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"};
        for (int64_t p = 0; p < 3; ++p) {
          Tensor slice = sliceRows(rows, p * h, (p + 1) * h);
          if (!weight) slice = Tensor::copyOf(slice.dtype(), {h}, slice.bytes());
          out.set(L(std::string(parts[p]) + kind), slice);
        }
      } else {
        const char* target = startsWith(rest, "attn.c_proj.")  ? "self_attn.o_proj"
                             : startsWith(rest, "mlp.c_fc.")   ? "mlp.up_proj"
                             : startsWith(rest, "mlp.c_proj.") ? "mlp.down_proj"
                                                                 : nullptr;
        require(target != nullptr, "unexpected GPT-2 tensor '" + name + "' (not part of GPT2LMHeadModel)");
        require(!weight || t.shape().size() == 2, "tensor '" + name + "' should be 2-D, has shape " + shapeString(t.shape()));
        out.set(L(std::string(target) + kind), weight ? transpose2d(t) : t);
      }
    } else {
      throw Error("unexpected GPT-2 tensor '" + name + "' (not part of GPT2LMHeadModel)");
    }
  }
}

std::vector<std::pair<std::string, Tensor>> exportGpt2(const Model& m) {
  const ModelConfig& c = m.config;
  std::vector<std::pair<std::string, Tensor>> out;
  const auto& T = m.tensors;
  out.emplace_back("transformer.wte.weight", T.at(names::kEmbedTokens));
  out.emplace_back("transformer.wpe.weight", T.at(names::kEmbedPositions));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const auto L = [&](const std::string& s) { return T.at(names::layer(i, s)); };
    const std::string p = "transformer.h." + std::to_string(i) + ".";
    out.emplace_back(p + "ln_1.weight", L("input_layernorm.weight"));
    out.emplace_back(p + "ln_1.bias", L("input_layernorm.bias"));
    out.emplace_back(p + "attn.c_attn.weight",
                     transpose2d(concatRows({L("self_attn.q_proj.weight"), L("self_attn.k_proj.weight"),
                                             L("self_attn.v_proj.weight")})));
    Tensor qkv_bias = concatRows({L("self_attn.q_proj.bias"), L("self_attn.k_proj.bias"), L("self_attn.v_proj.bias")});
    out.emplace_back(p + "attn.c_attn.bias", qkv_bias);
    out.emplace_back(p + "attn.c_proj.weight", transpose2d(L("self_attn.o_proj.weight")));
    out.emplace_back(p + "attn.c_proj.bias", L("self_attn.o_proj.bias"));
    out.emplace_back(p + "ln_2.weight", L("post_attention_layernorm.weight"));
    out.emplace_back(p + "ln_2.bias", L("post_attention_layernorm.bias"));
    out.emplace_back(p + "mlp.c_fc.weight", transpose2d(L("mlp.up_proj.weight")));
    out.emplace_back(p + "mlp.c_fc.bias", L("mlp.up_proj.bias"));
    out.emplace_back(p + "mlp.c_proj.weight", transpose2d(L("mlp.down_proj.weight")));
    out.emplace_back(p + "mlp.c_proj.bias", L("mlp.down_proj.bias"));
  }
  out.emplace_back("transformer.ln_f.weight", T.at(std::string(names::kFinalNorm) + ".weight"));
  out.emplace_back("transformer.ln_f.bias", T.at(std::string(names::kFinalNorm) + ".bias"));
  if (!c.tie_word_embeddings) out.emplace_back("lm_head.weight", T.at(names::kLmHead));
  return out;
}

}  // namespace

HfQuantFormat parseHfQuantFormat(const std::string& text, const std::string& what) {
  if (text == kHfQuantFormats[0]) return HfQuantFormat::Slmc;
  if (text == kHfQuantFormats[1]) return HfQuantFormat::CompressedTensors;
  if (text == kHfQuantFormats[2]) return HfQuantFormat::Gptq;
  throw Error(what + " '" + text + "' is not one of " +
              joinText(std::vector<std::string>(std::begin(kHfQuantFormats), std::end(kHfQuantFormats))));
}

Model loadHfDirectory(const std::string& dir) {
  const std::string config_path = dir + "/config.json";
  require(isFile(config_path), "'" + dir + "' has no config.json (pass a Hugging Face model directory)");
  Model m;
  m.source = dir;
  const std::string config_text = readTextFile(config_path);
  m.config = parseHfConfig(config_text, config_path);

  NamedTensors raw;
  if (isFile(dir + "/model.safetensors")) {
    raw = readSafetensors(dir + "/model.safetensors");
  } else if (isFile(dir + "/model.safetensors.index.json")) {
    raw = readShardedSafetensors(dir + "/model.safetensors.index.json");
  } else {
    const bool pickle = isFile(dir + "/pytorch_model.bin") || isFile(dir + "/pytorch_model.bin.index.json");
    throw Error("'" + dir + "' has no model.safetensors" +
                (pickle ? std::string(" (only pytorch_model.bin, which slmc does not read: convert it with "
                                      "transformers' save_pretrained(safe_serialization=True))")
                        : std::string(" or model.safetensors.index.json")));
  }

  uint64_t weight_bytes = 0;
  for (const auto& entry : raw.tensors) weight_bytes += entry.second.nbytes();
  checkConfigFitsWeights(m.config, raw.tensors.size(), weight_bytes, config_path);

  const nlohmann::json config_json = nlohmann::json::parse(config_text);  // parseHfConfig checked it
  if (config_json.contains("quantization_config")) {
    const nlohmann::json& qc = config_json["quantization_config"];
    if (qc.is_object() && qc.value("quant_method", std::string()) == kGptqQuantMethod) {
      importGptqTensors(qc, raw.tensors, m, dir);
    } else {
      importQuantizedTensors(qc, raw.tensors, m, dir);
    }
  } else if (m.config.family == ArchFamily::GPT2) {
    importGpt2(m.config, raw.tensors, m.tensors);
  } else {
    for (auto& [name, t] : raw.tensors) {
      if (isIgnoredBuffer(name)) continue;
      if (name == names::kLmHead && m.config.tie_word_embeddings) continue;  // a tied copy
      m.tensors.set(name, std::move(t));
    }
  }
  Model canonical = inCanonicalOrder(m);
  if (config_json.contains("sparsity_config")) importSparsityRecord(config_json["sparsity_config"], canonical, dir);
  return canonical;
}

void saveHfDirectory(const Model& model, const std::string& dir, HfQuantFormat quant_format) {
  validateModel(model);
  const bool quantized = isQuantizedModel(model);
  const bool compressed_tensors = quantized && quant_format == HfQuantFormat::CompressedTensors;
  if (compressed_tensors) {
    const CompressedTensorsExportability exportability = compressedTensorsExportability(model);
    require(exportability.possible, "cannot export '" + model.source + "' as compressed-tensors: " + exportability.detail);
  }
  const bool gptq = quantized && quant_format == HfQuantFormat::Gptq;
  if (gptq) {
    const GptqExportability exportability = gptqExportability(model);
    require(exportability.possible, "cannot export '" + model.source + "' as a GPTQ checkpoint: " + exportability.detail);
  }
  std::error_code ec;
  if (fs::exists(dir, ec))
    require(fs::is_directory(dir, ec), "'" + dir + "' exists and is not a directory (choose another output path)");
  // Everything is written into a staging directory beside the target, which then takes the
  // target's place in one rename: a reader sees the old directory or the new one, never a mix,
  // and an interrupted write leaves no half-filled target.
  removeStaleTempPaths(dir);
  const std::string staging = tempPathFor(dir);
  const RegisteredTempPath registered(staging);
  fs::remove_all(staging, ec);
  if (::mkdir(staging.c_str(), 0777) != 0)
    throw Error("cannot create '" + staging + "': " + std::strerror(errno) +
                " (check that the parent directory exists and is writable)");
  try {
    // A quantized model keeps slmc's canonical names (quantized_checkpoint.h, and Llama-family
    // names are Hugging Face's for compressed_tensors.h); a float one is written in the family's
    // own Hugging Face layout.
    const std::vector<std::pair<std::string, Tensor>> tensors =
        compressed_tensors ? compressedTensorsCheckpointTensors(model)
        : gptq             ? gptqCheckpointTensors(model)
        : quantized        ? quantizedCheckpointTensors(model)
        : model.config.family == ArchFamily::GPT2
            ? exportGpt2(model)
            : std::vector<std::pair<std::string, Tensor>>(model.tensors.begin(), model.tensors.end());
    writeSafetensors(staging + "/model.safetensors", tensors, {{"format", "pt"}});
    std::string config_text = hfConfigJson(model.config);
    if (quantized || !model.sparsity.empty()) {
      nlohmann::json config_json = nlohmann::json::parse(config_text);
      if (compressed_tensors) {
        // Its own sparsity record is inside (compressed_tensors.h); slmc's would only be a second copy.
        config_json["quantization_config"] = compressedTensorsQuantizationConfig(model);
      } else if (gptq) {
        config_json["quantization_config"] = gptqQuantizationConfig(model);
        // GPTQ has no sparsity record; slmc's is kept as an attribute transformers ignores.
        if (!model.sparsity.empty()) config_json["sparsity_config"] = sparsityRecord(model);
      } else {
        if (quantized) config_json["quantization_config"] = quantizationConfig(model);
        // transformers keeps unknown config keys as attributes, so a sparse float export still loads there.
        if (!model.sparsity.empty()) config_json["sparsity_config"] = sparsityRecord(model);
      }
      config_text = config_json.dump(2) + "\n";
    }
    writeFileAtomically(staging + "/config.json", config_text);
    // The tokenizer travels with the weights, so the export loads in transformers as is (copied
    // into the staging directory even when the source is the target being replaced).
    if (fs::is_directory(model.source, ec)) {
      for (const char* name : kTokenizerFiles) {
        if (!fs::is_regular_file(model.source + "/" + name)) continue;
        fs::copy_file(model.source + "/" + name, staging + "/" + name, ec);
        require(!ec, "cannot copy " + std::string(name) + " from '" + model.source + "': " + ec.message());
      }
    } else if (fs::is_regular_file(model.source, ec) && gguf::looksLikeGguf(model.source)) {
      // A GGUF's vocabulary becomes the tokenizer.json + tokenizer_config.json transformers reads.
      for (const auto& [name, text] : gguf::hfTokenizerFilesOf(model.source).named())
        writeFileAtomically(staging + "/" + name, text);
    }
    if (fs::is_directory(dir, ec)) {
      // Replace (callers refuse an existing directory unless --force): swap the two atomically,
      // then remove the old contents, now at the staging path.
      if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0) {
        // A filesystem without the exchange: move the old one aside, then the new one in.
        const std::string old = tempPathFor(dir) + ".old";
        const RegisteredTempPath registered_old(old);
        if (::rename(dir.c_str(), old.c_str()) != 0 || ::rename(staging.c_str(), dir.c_str()) != 0)
          throw Error("cannot replace '" + dir + "': " + std::strerror(errno));
        fs::remove_all(old, ec);
      }
    } else if (::rename(staging.c_str(), dir.c_str()) != 0) {
      throw Error("cannot create '" + dir + "': " + std::strerror(errno) + " (check that the parent is writable)");
    }
    fs::remove_all(staging, ec);
  } catch (...) {
    fs::remove_all(staging, ec);
    throw;
  }
}

}  // namespace slmc

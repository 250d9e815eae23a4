#include "lib/format/gguf/gguf_tokenizer_from_hf.h"

#include <nlohmann/json.hpp>

#include "lib/support/error.h"

namespace slmc::gguf {

using nlohmann::json;

namespace {

// ByteLevel's trim_offsets only moves offsets, never ids: compare pre-tokenizers without it.
json withoutOffsets(json j) {
  if (j.is_object()) {
    j.erase("trim_offsets");
    for (auto& [key, value] : j.items()) value = withoutOffsets(value);
  } else if (j.is_array()) {
    for (auto& value : j) value = withoutOffsets(value);
  }
  return j;
}

// A special token named in tokenizer_config.json: a string or an AddedToken object.
std::string tokenText(const json& config, const char* key) {
  if (!config.contains(key)) return "";
  const json& v = config.at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v.at("content").is_string()) return v.at("content").get<std::string>();
  return "";
}

}  // namespace

GgufTokenizerMetadata ggufTokenizerFromHf(const std::string& tokenizer_json, const std::string& tokenizer_config_json,
                                          const std::string& origin) {
  json tok, config = json::object();
  try {
    tok = json::parse(tokenizer_json);
    if (!tokenizer_config_json.empty()) config = json::parse(tokenizer_config_json);
  } catch (const json::exception& e) {
    throw Error("tokenizer of '" + origin + "' is not valid JSON (" + e.what() + ")");
  }
  const std::string where = "tokenizer.json of '" + origin + "'";
  require(tok.is_object() && tok.contains("model") && tok.at("model").is_object(), where + " has no \"model\"");
  const json& model = tok.at("model");
  require(model.value("type", std::string()) == "BPE",
          where + ": model type '" + model.value("type", std::string("?")) +
              "' has no GGUF equivalent slmc writes (byte-level BPE only)");

  GgufTokenizerMetadata m;
  m.model = "gpt2";
  const json pre = tok.contains("pre_tokenizer") ? withoutOffsets(tok.at("pre_tokenizer")) : json();
  for (const std::string& name : supportedGgufPreTokenizers())
    if (withoutOffsets(json::parse(hfPreTokenizerJson(name))) == pre) {
      m.pre = name;  // the table lists each split's canonical name first
      break;
    }
  if (m.pre.empty()) {
    const bool sentencepiece = model.value("byte_fallback", false) || pre.is_null();
    std::string known;
    for (const std::string& n : supportedGgufPreTokenizers()) known += (known.empty() ? "" : ", ") + n;
    throw Error(sentencepiece
                    ? where + " is a SentencePiece-style BPE; a GGUF \"llama\" vocabulary needs the piece scores, "
                              "which tokenizer.json does not hold (pass the source GGUF with --tokenizer)"
                    : where + ": its pre_tokenizer " + tok.at("pre_tokenizer").dump() +
                          " matches no llama.cpp tokenizer.ggml.pre slmc maps (" + known +
                          "); llama.cpp would split text differently");
  }

  // Tokens in id order: the vocabulary, then the added tokens (which may lie beyond it).
  std::vector<std::pair<std::string, int64_t>> entries;
  require(model.contains("vocab") && model.at("vocab").is_object(), where + " has no BPE \"vocab\" object");
  for (const auto& item : model.at("vocab").items()) {
    const std::string& text = item.key();
    const json& id = item.value();
    require(id.is_number_integer() && id.get<int64_t>() >= 0, where + ": token '" + text + "' has no valid id");
    entries.emplace_back(text, id.get<int64_t>());
  }
  std::vector<std::pair<int64_t, bool>> added;  // id, special
  if (tok.contains("added_tokens") && tok.at("added_tokens").is_array())
    for (const json& a : tok.at("added_tokens")) {
      require(a.contains("id") && a.at("id").is_number_integer() && a.at("id").get<int64_t>() >= 0 &&
                  a.contains("content") && a.at("content").is_string(),
              where + ": an added token has no valid id or content");
      entries.emplace_back(a.at("content").get<std::string>(), a.at("id").get<int64_t>());
      added.emplace_back(a.at("id").get<int64_t>(), a.value("special", false));
    }
  int64_t count = 0;
  for (const auto& [text, id] : entries) count = std::max(count, id + 1);
  require(count <= (int64_t{1} << 24), where + " has token ids up to " + std::to_string(count) + " (corrupt?)");
  m.tokens.assign(static_cast<size_t>(count), "");
  m.token_types.assign(static_cast<size_t>(count), kTokenUnused);
  for (const auto& [text, id] : entries) {
    m.tokens[static_cast<size_t>(id)] = text;
    m.token_types[static_cast<size_t>(id)] = kTokenNormal;
  }
  for (const auto& [id, special] : added) m.token_types[static_cast<size_t>(id)] = special ? kTokenControl : kTokenUserDefined;
  for (size_t id = 0; id < m.tokens.size(); ++id)
    if (m.token_types[id] == kTokenUnused) m.tokens[id] = "[PAD" + std::to_string(id) + "]";

  if (model.contains("merges") && model.at("merges").is_array())
    for (const json& merge : model.at("merges")) {
      if (merge.is_string())
        m.merges.push_back(merge.get<std::string>());
      else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string())
        m.merges.push_back(merge[0].get<std::string>() + " " + merge[1].get<std::string>());
      else
        throw Error(where + ": a merge is neither \"a b\" nor [\"a\", \"b\"]");
    }

  const auto idOf = [&](const char* key) -> int64_t {
    const std::string text = tokenText(config, key);
    if (text.empty()) return -1;
    for (const auto& [t, id] : entries)
      if (t == text) return id;
    throw Error("tokenizer_config.json of '" + origin + "' names " + key + " '" + text +
                "', which is not in the vocabulary");
  };
  m.bos_id = idOf("bos_token");
  m.eos_id = idOf("eos_token");
  m.unk_id = idOf("unk_token");
  m.pad_id = idOf("pad_token");
  if (config.contains("add_bos_token") && config.at("add_bos_token").is_boolean()) m.add_bos = config.at("add_bos_token").get<bool>();
  if (config.contains("add_eos_token") && config.at("add_eos_token").is_boolean()) m.add_eos = config.at("add_eos_token").get<bool>();
  if (config.contains("chat_template")) {
    const json& t = config.at("chat_template");
    if (t.is_string()) {
      m.chat_template = t.get<std::string>();
    } else if (t.is_array()) {  // named templates: llama.cpp's convert keeps "default" as the template
      for (const json& named : t)
        if (named.is_object() && named.value("name", std::string()) == "default" && named.contains("template") &&
            named.at("template").is_string())
          m.chat_template = named.at("template").get<std::string>();
    }
  }
  return m;
}

}  // namespace slmc::gguf

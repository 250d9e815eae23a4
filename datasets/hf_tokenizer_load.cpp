// Reading a Hugging Face tokenizer.json (+ tokenizer_config.json beside it) into HfBpeTokenizer.
// Schema: https://huggingface.co/docs/tokenizers (model, normalizer, pre_tokenizer,
// post_processor, decoder, added_tokens). Only what changes the ids of a BPE model is read;
// anything that would change them and that slmc does not implement is rejected by name.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "datasets/byte_level.h"
#include "datasets/hf_tokenizer.h"
#include "datasets/utf8.h"
#include "lib/support/error.h"
#include "lib/support/mapped_file.h"

namespace slmc {

using nlohmann::json;

namespace {

std::string readTextFile(const std::string& path) {
  const auto file = MappedFile::open(path);
  return std::string(reinterpret_cast<const char*>(file->data()), file->size());
}

// `where` names the text: "tokenizer.json '<path>'".
json parseJsonText(const std::string& text, const std::string& where) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(where + " is not valid JSON (parse error at byte " + std::to_string(e.byte) +
                "); re-download or regenerate it");
  } catch (const json::out_of_range& e) {  // a number beyond double, like 1e705
    throw Error(where + " is not valid JSON (" + e.what() + "); re-download or regenerate it");
  }
}

std::string typeOf(const json& node) {
  if (!node.is_object()) return "";
  const auto it = node.find("type");
  return it != node.end() && it->is_string() ? it->get<std::string>() : "";
}

// bos_token / eos_token in tokenizer_config.json: a string or an AddedToken object.
std::string tokenContent(const json& node) {
  if (node.is_string()) return node.get<std::string>();
  if (node.is_object() && node.contains("content") && node["content"].is_string()) return node["content"];
  return "";
}

}  // namespace

struct HfTokenizerReader {
  HfBpeTokenizer& t;
  std::string where;  // "tokenizer.json '<path>'"

  [[noreturn]] void unsupported(const std::string& what) const {
    throw Error(where + " uses " + what +
                ", which slmc does not implement; slmc reads BPE tokenizer.json files in the byte-level (GPT-2) "
                "or SentencePiece (Metaspace / Prepend+Replace ▁, byte fallback) style");
  }

  const json& member(const json& node, const char* key, const std::string& context) const {
    require(node.is_object() && node.contains(key),
            where + " is missing \"" + key + "\" in " + context + "; it is not a complete Hugging Face tokenizer.json");
    return node[key];
  }

  // An integer member within [lo, hi]: nlohmann's get<int64_t>() of a float or of an
  // out-of-range number is undefined behaviour, so the type and range are checked first.
  int64_t integer(const json& value, const std::string& what, int64_t lo, int64_t hi) const {
    require(value.is_number_integer(), where + " gives " + what + " a value that is not an integer; the file is corrupt");
    const bool fits = value.is_number_unsigned() ? value.get<uint64_t>() <= static_cast<uint64_t>(hi)
                                                 : value.get<int64_t>() >= lo && value.get<int64_t>() <= hi;
    require(fits, where + " gives " + what + " " + value.dump() + ", outside " + std::to_string(lo) + ".." +
                      std::to_string(hi) + "; the file is corrupt");
    return value.get<int64_t>();
  }

  // Ids may leave gaps, but not many: the table is sized by the largest id, so an id far beyond
  // the number of entries the file lists (a corrupt or hostile file) would allocate gigabytes.
  int64_t id_limit = 1 << 28;

  int32_t setPiece(const std::string& text, int64_t id) {
    require(id >= 0 && id < id_limit, where + " gives token '" + text + "' the id " + std::to_string(id) +
                                          ", outside 0.." + std::to_string(id_limit - 1) +
                                          " (the file lists fewer entries); the file is corrupt");
    const auto i = static_cast<size_t>(id);
    if (t.pieces_.size() <= i) t.pieces_.resize(i + 1);
    t.pieces_[i] = text;
    t.ids_.emplace(text, static_cast<int32_t>(id));
    return static_cast<int32_t>(id);
  }

  void readModel(const json& model) {
    const std::string type = typeOf(model);
    if (type.empty() && !model.contains("merges")) unsupported("a model without a type");
    if (!type.empty() && type != "BPE") unsupported("a " + type + " model (supported: BPE)");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty())
        unsupported(std::string("the BPE option ") + key);
    const json& vocab = member(model, "vocab", "model");
    require(vocab.is_object(), where + " has a model.vocab that is not an object of token → id");
    t.ids_.reserve(vocab.size() * 2);
    for (const auto& [text, id] : vocab.items()) {
      setPiece(text, integer(id, "token '" + text + "'", 0, int64_t{1} << 28));
    }
    t.ignore_merges_ = model.value("ignore_merges", false);
  }

  // Merges as "a b" strings (tokenizers < 0.20) or ["a", "b"] pairs (newer); rank = position.
  template <typename AddMerge>
  void readMerges(const json& model, AddMerge add) {
    const json& merges = member(model, "merges", "model");
    require(merges.is_array(), where + " has model.merges that is not a list");
    uint32_t rank = 0;
    for (const json& m : merges) {
      std::string a, b;
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t space = s.find(' ', 1);
        require(space != std::string::npos && s.find(' ', space + 1) == std::string::npos,
                where + " has merge " + std::to_string(rank) + " '" + s + "' that is not two tokens split by one space");
        a = s.substr(0, space);
        b = s.substr(space + 1);
      } else {
        require(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(),
                where + " has merge " + std::to_string(rank) + " that is neither \"a b\" nor [\"a\", \"b\"]");
        a = m[0].get<std::string>();
        b = m[1].get<std::string>();
      }
      const int32_t left = t.idOf(a), right = t.idOf(b), merged = t.idOf(a + b);
      require(left >= 0 && right >= 0 && merged >= 0,
              where + " has merge " + std::to_string(rank) + " ('" + a + "', '" + b +
                  "') over tokens missing from the vocabulary; the file is corrupt");
      add(left, right, rank++, merged);
    }
  }

  void readAddedTokens(const json& root) {
    if (!root.contains("added_tokens") || root["added_tokens"].is_null()) return;
    for (const json& a : root["added_tokens"]) {
      AddedToken tok;
      tok.content = member(a, "content", "added_tokens").get<std::string>();
      tok.id = setPiece(tok.content, integer(member(a, "id", "added_tokens"), "added token '" + tok.content + "'",
                                             0, int64_t{1} << 28));
      tok.special = a.value("special", false);
      tok.lstrip = a.value("lstrip", false);
      tok.rstrip = a.value("rstrip", false);
      t.added_.add(tok);
    }
  }

  void readNormalizer(const json& n) {
    if (n.is_null()) return;
    const std::string type = typeOf(n);
    if (type == "Sequence") {
      for (const json& step : member(n, "normalizers", "the Sequence normalizer")) readNormalizer(step);
    } else if (type == "NFC") {
      t.normalizer_.addUnicode(Normalizer::Form::kNFC);
    } else if (type == "NFD") {
      t.normalizer_.addUnicode(Normalizer::Form::kNFD);
    } else if (type == "NFKC") {
      t.normalizer_.addUnicode(Normalizer::Form::kNFKC);
    } else if (type == "NFKD") {
      t.normalizer_.addUnicode(Normalizer::Form::kNFKD);
    } else if (type == "Lowercase") {
      t.normalizer_.addLowercase();
    } else if (type == "Strip") {
      t.normalizer_.addStrip(n.value("strip_left", true), n.value("strip_right", true));
    } else if (type == "StripAccents") {
      t.normalizer_.addStripAccents();
    } else if (type == "Prepend") {
      t.normalizer_.addPrepend(member(n, "prepend", "Prepend").get<std::string>());
    } else if (type == "Replace") {
      const json& pattern = member(n, "pattern", "Replace");
      const std::string content = member(n, "content", "Replace").get<std::string>();
      if (pattern.contains("Regex")) {
        t.normalizer_.addReplaceRegex(pattern["Regex"].get<std::string>(), content);
      } else {
        const std::string from = member(pattern, "String", "the Replace pattern").get<std::string>();
        require(!from.empty(), where + " has a Replace normalizer with an empty pattern; give it a pattern");
        t.normalizer_.addReplace(from, content);
      }
    } else {
      unsupported("the " + (type.empty() ? std::string("untyped") : type) +
                  " normalizer (supported: Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, "
                  "Prepend, Replace)");
    }
  }

  static std::string escapeRegex(const std::string& text) {
    std::string out;
    for (char c : text) {
      if (std::string_view("\\^$.|?*+()[]{}-#/ \t\n\r").find(c) != std::string_view::npos) out += '\\';
      out += c;
    }
    return out;
  }

  SplitBehavior behaviorOf(const json& p, const std::string& type) const {
    const std::string name = p.value("behavior", std::string("Isolated"));
    SplitBehavior b;
    if (!parseSplitBehavior(name, b))
      unsupported("a " + type + " pre-tokenizer with behavior '" + name +
                  "' (supported: Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)");
    return b;
  }

  void readPreTokenizer(const json& p) {
    if (p.is_null()) return;
    const std::string type = typeOf(p);
    if (type == "Sequence") {
      for (const json& step : member(p, "pretokenizers", "the Sequence pre-tokenizer")) readPreTokenizer(step);
      return;
    }
    // The byte → character mapping is done by the model, so nothing may cut pieces after it.
    if (t.byte_level_ && type != "Metaspace")
      unsupported("a " + (type.empty() ? std::string("untyped") : type) +
                  " pre-tokenizer after ByteLevel (slmc needs ByteLevel last in the sequence)");
    if (type == "ByteLevel") {
      t.byte_level_ = true;
      t.pre_tokenizer_.addByteLevel(p.value("add_prefix_space", false), p.value("use_regex", true));
    } else if (type == "Split") {
      const json& pattern = member(p, "pattern", "Split");
      std::string regex;
      if (pattern.contains("Regex")) {
        regex = pattern["Regex"].get<std::string>();
      } else {
        regex = escapeRegex(member(pattern, "String", "Split pattern").get<std::string>());
      }
      t.pre_tokenizer_.addSplit(regex, behaviorOf(p, type), p.value("invert", false));
      pre_tokenizer_names_.push_back(type);
    } else if (type == "Digits") {
      t.pre_tokenizer_.addDigits(p.value("individual_digits", false));
      pre_tokenizer_names_.push_back(type);
    } else if (type == "Punctuation") {
      t.pre_tokenizer_.addPunctuation(behaviorOf(p, type));
      pre_tokenizer_names_.push_back(type);
    } else if (type == "Whitespace") {
      t.pre_tokenizer_.addWhitespace();
      pre_tokenizer_names_.push_back(type);
    } else if (type == "WhitespaceSplit") {
      t.pre_tokenizer_.addWhitespaceSplit();
      pre_tokenizer_names_.push_back(type);
    } else if (type == "Metaspace") {
      t.metaspace_ = true;
      t.metaspace_char_ = p.value("replacement", std::string("\xE2\x96\x81"));
      const std::string scheme = p.value("prepend_scheme", std::string(p.value("add_prefix_space", true) ? "always" : "never"));
      t.metaspace_prepend_ = scheme == "first" ? HfBpeTokenizer::Prepend::kFirst
                             : scheme == "never" ? HfBpeTokenizer::Prepend::kNever
                                                 : HfBpeTokenizer::Prepend::kAlways;
      metaspace_split_ = p.value("split", true);
    } else {
      unsupported("the " + (type.empty() ? std::string("untyped") : type) +
                  " pre-tokenizer (supported: Sequence, ByteLevel, Split, Digits, Punctuation, Whitespace, "
                  "WhitespaceSplit, Metaspace)");
    }
  }

  // Only how many prefix spaces decode removes matters: encode added exactly one.
  void readDecoder(const json& d) {
    if (d.is_null()) return;
    const std::string type = typeOf(d);
    if (type == "Sequence") {
      for (const json& step : member(d, "decoders", "the Sequence decoder")) readDecoder(step);
    } else if (type == "Strip") {
      if (d.value("content", std::string(" ")) == " ") 
        t.strip_leading_spaces_ = d.contains("start") ? static_cast<int>(integer(d["start"], "the Strip decoder's start", 0, 1024)) : 0;
    } else if (type == "Metaspace") {
      const std::string scheme = d.value("prepend_scheme", std::string(d.value("add_prefix_space", true) ? "always" : "never"));
      if (scheme != "never") t.strip_leading_spaces_ = 1;
    }
  }

  // BOS from a TemplateProcessing "single" template that starts with a special token.
  void readPostProcessor(const json& p) {
    if (p.is_null()) return;
    const std::string type = typeOf(p);
    if (type == "Sequence") {
      for (const json& step : p.value("processors", json::array())) readPostProcessor(step);
    } else if (type == "TemplateProcessing" && p.contains("single") && p["single"].is_array()) {
      const json& single = p["single"];
      if (!single.empty() && single[0].contains("SpecialToken")) {
        template_bos_ = t.idOf(single[0]["SpecialToken"].value("id", std::string()));
      }
      if (single.size() > 1 && single.back().contains("SpecialToken"))
        template_eos_ = t.idOf(single.back()["SpecialToken"].value("id", std::string()));
    }
  }

  void readBosEos(const std::string& config_text) {
    // 1. tokenizer_config.json, 2. the post-processor, 3. well-known names.
    bool bos_known = false, eos_known = false;
    if (!config_text.empty()) {
      const json c = parseJsonText(config_text, "the tokenizer config of " + where);
      require(c.is_object(), "the tokenizer config of " + where + " is not a JSON object; fix or remove it");
      if (c.contains("bos_token")) {
        t.bos_id_ = t.idOf(tokenContent(c["bos_token"]));
        bos_known = true;
      }
      if (c.contains("eos_token")) {
        t.eos_id_ = t.idOf(tokenContent(c["eos_token"]));
        eos_known = true;
      }
      if (c.contains("add_bos_token") && c["add_bos_token"].is_boolean()) {
        t.adds_bos_by_default_ = c["add_bos_token"].get<bool>();
      } else {
        t.adds_bos_by_default_ = template_bos_ >= 0;
      }
    } else {
      t.adds_bos_by_default_ = template_bos_ >= 0;
    }
    if (!bos_known) t.bos_id_ = template_bos_;
    if (!eos_known) t.eos_id_ = template_eos_;
    const auto firstKnown = [&](std::initializer_list<const char*> names) {
      for (const char* name : names)
        if (const AddedToken* a = t.added_.byContent(name); a && a->special) return a->id;
      return -1;
    };
    if (!bos_known && t.bos_id_ < 0) t.bos_id_ = firstKnown({"<s>", "<|begin_of_text|>", "<bos>"});
    if (!eos_known && t.eos_id_ < 0) t.eos_id_ = firstKnown({"</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>"});
  }

  // A byte whose piece the vocabulary lacks (SmolLM2 has no control bytes) becomes unk_token, or
  // is dropped when there is none, as tokenizers' BPE does.
  void finishByteLevel(const json& model) {
    const int32_t unk = model.contains("unk_token") && model["unk_token"].is_string() ? t.idOf(model["unk_token"]) : -1;
    for (int b = 0; b < 256; ++b) {
      const int32_t id = t.idOf(bytePiece(static_cast<unsigned char>(b)));
      t.byte_ids_[static_cast<size_t>(b)] = id >= 0 ? id : unk;
    }
  }

  void finishSentencePiece(const json& model) {
    if (t.ignore_merges_) unsupported("ignore_merges with a SentencePiece-style model");
    t.byte_of_.assign(t.pieces_.size(), -1);
    if (model.value("byte_fallback", false)) {
      std::array<int32_t, 256> bytes{};
      for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        const int32_t id = t.idOf(name);
        require(id >= 0, where + " sets byte_fallback but has no " + name + " token; the file is incomplete");
        bytes[static_cast<size_t>(b)] = id;
        t.byte_of_[static_cast<size_t>(id)] = static_cast<int16_t>(b);
      }
      t.sp_.setByteFallback(bytes);
    }
    if (model.contains("unk_token") && model["unk_token"].is_string()) t.sp_.setUnknown(t.idOf(model["unk_token"]));
    for (const auto& [text, id] : t.ids_) {
      if (text.empty() || findInvalidUtf8(text) != std::string::npos) continue;
      if (t.added_.byId(id)) continue;
      size_t pos = 0;
      const uint32_t cp = nextCodepoint(text, pos);
      if (pos == text.size()) t.sp_.setCodepoint(cp, id);
    }
    t.sp_.setWhitespace(t.idOf(t.metaspace_char_),
                        t.metaspace_ && metaspace_split_ ? SentencePieceBpe::Split::kEverySpace
                                                         : SentencePieceBpe::Split::kNone,
                        t.pieces_);
  }

  void read(const std::string& text, const std::string& config_text) {
    const json root = parseJsonText(text, where);
    require(root.is_object(), where + " is not a JSON object; it is not a Hugging Face tokenizer.json");
    const json& model = member(root, "model", "the file");
    const json* vocab = model.is_object() && model.contains("vocab") ? &model["vocab"] : nullptr;
    const json* added = root.contains("added_tokens") ? &root["added_tokens"] : nullptr;
    const int64_t entries = static_cast<int64_t>((vocab && vocab->is_object() ? vocab->size() : 0) +
                                                 (added && added->is_array() ? added->size() : 0));
    id_limit = std::min<int64_t>(int64_t{1} << 28, 2 * entries + 4096);
    readModel(model);
    readAddedTokens(root);
    readNormalizer(root.value("normalizer", json()));
    readPreTokenizer(root.value("pre_tokenizer", json()));
    readDecoder(root.value("decoder", json()));
    readPostProcessor(root.value("post_processor", json()));
    t.added_kind_.assign(t.pieces_.size(), HfBpeTokenizer::kModelPiece);
    for (const AddedToken& a : t.added_.tokens())
      t.added_kind_[static_cast<size_t>(a.id)] = a.special ? HfBpeTokenizer::kSpecial : HfBpeTokenizer::kAddedText;

    const bool sentencepiece = t.metaspace_ || model.value("byte_fallback", false) ||
                               t.normalizer_.writes(t.metaspace_char_);
    if (t.byte_level_ && sentencepiece)
      unsupported("a ByteLevel pre-tokenizer together with Metaspace, a ▁ normalizer or byte_fallback");
    if (!t.byte_level_ && !sentencepiece)
      unsupported("a BPE model with neither a ByteLevel pre-tokenizer nor a SentencePiece-style ▁ normalizer/Metaspace");
    if (!t.byte_level_ && !pre_tokenizer_names_.empty())
      unsupported("a " + pre_tokenizer_names_.front() + " pre-tokenizer with a SentencePiece-style model");

    BpeMerges& merges = t.byte_level_ ? t.merges_ : t.sp_.merges();
    readMerges(model, [&](int32_t l, int32_t r, uint32_t rank, int32_t m) { merges.add(l, r, rank, m); });
    if (t.byte_level_)
      finishByteLevel(model);
    else
      finishSentencePiece(model);
    readBosEos(config_text);
  }

  int32_t template_bos_ = -1;
  int32_t template_eos_ = -1;
  bool metaspace_split_ = true;
  std::vector<std::string> pre_tokenizer_names_{};  // steps other than ByteLevel / Metaspace
};

std::unique_ptr<HfBpeTokenizer> HfBpeTokenizer::fromJson(const std::string& tokenizer_json,
                                                         const std::string& tokenizer_config_json,
                                                         const std::string& origin) {
  std::unique_ptr<HfBpeTokenizer> t(new HfBpeTokenizer());
  HfTokenizerReader reader{*t, "tokenizer.json '" + origin + "'"};
  try {
    reader.read(tokenizer_json, tokenizer_config_json);
  } catch (const nlohmann::json::exception& e) {
    // A field of the wrong JSON type (e.g. a number where a string belongs).
    throw Error(reader.where + " has a field of an unexpected type (" + e.what() + "); the file is corrupt");
  }
  return t;
}

std::unique_ptr<HfBpeTokenizer> HfBpeTokenizer::load(const std::string& path) {
  const std::string config = (std::filesystem::path(path).parent_path() / "tokenizer_config.json").string();
  return fromJson(readTextFile(path),
                  std::filesystem::is_regular_file(config) ? readTextFile(config) : std::string(),
                  path);
}

int32_t HfBpeTokenizer::idOf(const std::string& piece) const {
  const auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

}  // namespace slmc

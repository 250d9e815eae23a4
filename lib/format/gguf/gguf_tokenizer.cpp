// tokenizer.ggml.* → tokenizer.json + tokenizer_config.json. See gguf_tokenizer.h.
//
// The pre-tokenizer table follows llama.cpp's src/llama-vocab.cpp: for each LLAMA_VOCAB_PRE_TYPE_*
// llama.cpp applies a list of regexes in turn (each splits every piece the previous one left,
// keeping the text between matches), then maps bytes to GPT-2's alphabet. In tokenizer.json terms
// that is one Split(Regex, Isolated) per regex followed by ByteLevel(use_regex false); where the
// list is GPT-2's regex, ByteLevel(use_regex true) says the same, and a lone "\p{N}" first is
// Digits(individual_digits true).
#include "lib/format/gguf/gguf_tokenizer.h"

#include "lib/format/gguf/gguf_file.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "lib/support/error.h"

namespace slmc::gguf {

using ordered_json = nlohmann::ordered_json;

namespace {

// GPT-2's pre-tokenizer regex (llama.cpp writes it without the final |\s+, which keeps the same
// pieces since the text between matches stays a piece).
constexpr const char* kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3 (LLAMA_VOCAB_PRE_TYPE_LLAMA3): numbers in runs of up to three digits.
constexpr const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2 (LLAMA_VOCAB_PRE_TYPE_QWEN2): as Llama 3 but one digit per piece.
constexpr const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// LLAMA_VOCAB_PRE_TYPE_DEFAULT: punctuation runs, then GPT-2's regex, then digit runs, then threes.
const std::vector<std::string> kDefaultRegexes = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2Regex, R"(\p{N}+)",
                                                  "[0-9][0-9][0-9]"};

const std::string kMetaspace = "\xE2\x96\x81";  // ▁

enum class PreKind { kGpt2, kSmollm, kLlama3, kQwen2, kDefault };

struct PreRow {
  const char* name;  // tokenizer.ggml.pre, as llama.cpp's convert scripts write it
  PreKind kind;
};
// Names llama.cpp maps to the same regex list share a kind.
constexpr PreRow kPreTable[] = {
    {"default", PreKind::kDefault},  {"gpt-2", PreKind::kGpt2},        {"mpt", PreKind::kGpt2},
    {"olmo", PreKind::kGpt2},        {"jais", PreKind::kGpt2},         {"smollm", PreKind::kSmollm},
    {"starcoder", PreKind::kSmollm}, {"refact", PreKind::kSmollm},     {"command-r", PreKind::kSmollm},
    {"codeshell", PreKind::kSmollm}, {"llama-bpe", PreKind::kLlama3},  {"llama3", PreKind::kLlama3},
    {"llama-v3", PreKind::kLlama3},  {"qwen2", PreKind::kQwen2},       {"deepseek-r1-qwen", PreKind::kQwen2},
};

ordered_json byteLevel(bool use_regex, bool add_prefix_space, bool trim_offsets) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", add_prefix_space},
          {"trim_offsets", trim_offsets},
          {"use_regex", use_regex}};
}

ordered_json splitIsolated(const std::string& regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
}

ordered_json sequence(const char* list_key, std::vector<ordered_json> steps) {
  ordered_json s = {{"type", "Sequence"}};
  s[list_key] = std::move(steps);
  return s;
}

ordered_json preTokenizerFor(PreKind kind) {
  switch (kind) {
    case PreKind::kGpt2:
      return byteLevel(/*use_regex=*/true, false, true);
    case PreKind::kSmollm:
      return sequence("pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byteLevel(true, false, true)});
    case PreKind::kLlama3:
      return sequence("pretokenizers", {splitIsolated(kLlama3Regex), byteLevel(false, false, true)});
    case PreKind::kQwen2:
      return sequence("pretokenizers", {splitIsolated(kQwen2Regex), byteLevel(false, false, false)});
    case PreKind::kDefault: {
      std::vector<ordered_json> steps;
      for (const std::string& r : kDefaultRegexes) steps.push_back(splitIsolated(r));
      steps.push_back(byteLevel(false, false, true));
      return sequence("pretokenizers", std::move(steps));
    }
  }
  return nullptr;
}

struct Converter {
  const GgufTokenizerMetadata& m;
  std::string where;  // "GGUF '<origin>'"

  int64_t typeOf(size_t id) const { return m.token_types.empty() ? kTokenNormal : m.token_types[id]; }

  const std::string* pieceOf(int64_t id) const {
    return id >= 0 && id < static_cast<int64_t>(m.tokens.size()) ? &m.tokens[static_cast<size_t>(id)] : nullptr;
  }

  void check() const {
    require(!m.tokens.empty(), where + " has no tokenizer.ggml.tokens; it carries no tokenizer (pass --tokenizer)");
    require(m.token_types.empty() || m.token_types.size() == m.tokens.size(),
            where + " has " + std::to_string(m.token_types.size()) + " tokenizer.ggml.token_type entries for " +
                std::to_string(m.tokens.size()) + " tokens; the file is corrupt");
    for (const auto& [name, id] : {std::pair<const char*, int64_t>{"bos", m.bos_id}, {"eos", m.eos_id},
                                   {"unknown", m.unk_id}, {"padding", m.pad_id}})
      require(id < static_cast<int64_t>(m.tokens.size()),
              where + " names token " + std::to_string(id) + " as its " + name + " token but has only " +
                  std::to_string(m.tokens.size()) + " tokens; the file is corrupt");
  }

  // Every token in id order; a repeated text keeps its first id (a JSON object holds one).
  ordered_json vocab() const {
    ordered_json v = ordered_json::object();
    // ordered_json finds a key by a linear scan: appending to its vector with our own set keeps
    // SmolLM2's 49,152 tokens linear (contains() + operator[] were quadratic: 9 s of an import).
    auto& entries = v.get_ref<ordered_json::object_t&>();
    entries.reserve(m.tokens.size());
    std::unordered_set<std::string_view> seen;
    for (size_t id = 0; id < m.tokens.size(); ++id)
      if (seen.insert(m.tokens[id]).second) entries.emplace_back(m.tokens[id], id);
    return v;
  }

  // Control and user-defined tokens (and the unknown token) are matched verbatim in the text.
  ordered_json addedTokens() const {
    ordered_json added = ordered_json::array();
    for (size_t id = 0; id < m.tokens.size(); ++id) {
      const int64_t type = typeOf(id);
      if (type != kTokenControl && type != kTokenUserDefined && type != kTokenUnknown) continue;
      added.push_back({{"id", id},
                       {"content", m.tokens[id]},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", type != kTokenUserDefined}});
    }
    return added;
  }

  // TemplateProcessing that puts BOS before / EOS after the text, when the GGUF asks for them.
  ordered_json templateProcessing(bool add_bos, bool add_eos) const {
    const std::string* bos = add_bos ? pieceOf(m.bos_id) : nullptr;
    const std::string* eos = add_eos ? pieceOf(m.eos_id) : nullptr;
    if (!bos && !eos) return nullptr;
    const auto special = [](const std::string& t, int type_id) {
      return ordered_json{{"SpecialToken", {{"id", t}, {"type_id", type_id}}}};
    };
    const auto seq = [](const char* id, int type_id) {
      return ordered_json{{"Sequence", {{"id", id}, {"type_id", type_id}}}};
    };
    ordered_json single = ordered_json::array(), pair = ordered_json::array(), specials = ordered_json::object();
    if (bos) single.push_back(special(*bos, 0));
    single.push_back(seq("A", 0));
    if (eos) single.push_back(special(*eos, 0));
    pair = single;
    if (bos) pair.push_back(special(*bos, 1));
    pair.push_back(seq("B", 1));
    if (eos) pair.push_back(special(*eos, 1));
    for (const auto& [piece, id] : {std::pair{bos, m.bos_id}, std::pair{eos, m.eos_id}})
      if (piece) specials[*piece] = {{"id", *piece}, {"ids", ordered_json::array({id})}, {"tokens", ordered_json::array({*piece})}};
    return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}};
  }

  ordered_json byteLevelTokenizer(PreKind kind, bool add_bos, bool add_eos) const {
    ordered_json merges = ordered_json::array();
    for (const std::string& merge : m.merges) merges.push_back(merge);
    ordered_json post = byteLevel(true, true, false);
    if (ordered_json t = templateProcessing(add_bos, add_eos); !t.is_null()) post = sequence("processors", {post, t});
    return {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens", addedTokens()},
            {"normalizer", nullptr},
            {"pre_tokenizer", preTokenizerFor(kind)},
            {"post_processor", post},
            {"decoder", byteLevel(true, true, true)},
            {"model",
             {{"type", "BPE"},
              {"dropout", nullptr},
              {"unk_token", nullptr},
              {"continuing_subword_prefix", nullptr},
              {"end_of_word_suffix", nullptr},
              {"fuse_unk", false},
              {"byte_fallback", false},
              // llama.cpp looks a whole Llama 3 piece up in the vocabulary before merging.
              {"ignore_merges", kind == PreKind::kLlama3},
              {"vocab", vocab()},
              {"merges", merges}}}};
  }

  // SentencePiece has no merge list: as Hugging Face's SentencePieceExtractor, every split of a
  // piece into two vocabulary pieces is a merge, ranked by the merged piece's score (higher
  // first), then the longer left half, then the longer right half (in code points), then in id
  // order of the merged piece and of the two halves.
  ordered_json sentencePieceMerges() const {
    std::unordered_map<std::string, int64_t> ids;
    for (size_t id = 0; id < m.tokens.size(); ++id) ids.emplace(m.tokens[id], static_cast<int64_t>(id));
    struct Merge {
      float score;
      size_t left_length, right_length;
      int64_t merged, left, right;
    };
    const auto codepoints = [](const std::string& text) {
      size_t n = 0;
      for (const char ch : text) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
      return n;
    };
    std::vector<Merge> merges;
    for (size_t id = 0; id < m.tokens.size(); ++id) {
      const std::string& piece = m.tokens[id];
      for (size_t cut = 1; cut < piece.size(); ++cut) {
        if ((static_cast<unsigned char>(piece[cut]) & 0xC0) == 0x80) continue;  // inside a code point
        const auto l = ids.find(piece.substr(0, cut)), r = ids.find(piece.substr(cut));
        if (l != ids.end() && r != ids.end())
          merges.push_back({m.scores[id], codepoints(l->first), codepoints(r->first), static_cast<int64_t>(id),
                            l->second, r->second});
      }
    }
    std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
      if (a.score != b.score) return a.score > b.score;
      if (a.left_length != b.left_length) return a.left_length > b.left_length;
      if (a.right_length != b.right_length) return a.right_length > b.right_length;
      if (a.merged != b.merged) return a.merged < b.merged;
      return a.left != b.left ? a.left < b.left : a.right < b.right;
    });
    ordered_json out = ordered_json::array();
    // Pairs, not "a b" strings: a SentencePiece piece may hold a space.
    for (const Merge& g : merges)
      out.push_back({m.tokens[static_cast<size_t>(g.left)], m.tokens[static_cast<size_t>(g.right)]});
    return out;
  }

  bool hasAllBytePieces() const {
    std::unordered_map<std::string, bool> have;
    for (const std::string& t : m.tokens) have.emplace(t, true);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      if (!have.count(name)) return false;
    }
    return true;
  }

  ordered_json sentencePieceTokenizer(bool add_bos, bool add_eos) const {
    require(m.scores.size() == m.tokens.size(), where + " has " + std::to_string(m.scores.size()) +
                                                    " tokenizer.ggml.scores for " + std::to_string(m.tokens.size()) +
                                                    " tokens; a SentencePiece vocabulary needs one score per token");
    const ordered_json replace_space = {
        {"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMetaspace}};
    const ordered_json decoder = sequence(
        "decoders", {{{"type", "Replace"}, {"pattern", {{"String", kMetaspace}}}, {"content", " "}},
                     {{"type", "ByteFallback"}},
                     {{"type", "Fuse"}},
                     {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}});
    const std::string* unk = pieceOf(m.unk_id);
    return {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens", addedTokens()},
            // llama.cpp's add_space_prefix (its default, true): one ▁ before the text.
            {"normalizer", sequence("normalizers", {{{"type", "Prepend"}, {"prepend", kMetaspace}}, replace_space})},
            {"pre_tokenizer", nullptr},
            {"post_processor", templateProcessing(add_bos, add_eos)},
            {"decoder", decoder},
            {"model",
             {{"type", "BPE"},
              {"dropout", nullptr},
              {"unk_token", unk ? ordered_json(*unk) : ordered_json(nullptr)},
              {"continuing_subword_prefix", nullptr},
              {"end_of_word_suffix", nullptr},
              {"fuse_unk", true},
              {"byte_fallback", hasAllBytePieces()},
              {"ignore_merges", false},
              {"vocab", vocab()},
              {"merges", sentencePieceMerges()}}}};
  }

  ordered_json config(bool add_bos, bool add_eos, bool byte_level) const {
    ordered_json c = {{"add_bos_token", add_bos}, {"add_eos_token", add_eos}};
    if (byte_level) c["add_prefix_space"] = false;
    for (const auto& [key, id] : {std::pair<const char*, int64_t>{"bos_token", m.bos_id}, {"eos_token", m.eos_id},
                                  {"unk_token", m.unk_id}, {"pad_token", m.pad_id}})
      if (const std::string* piece = pieceOf(id)) c[key] = *piece;
    c["clean_up_tokenization_spaces"] = false;
    c["tokenizer_class"] = byte_level ? "GPT2Tokenizer" : "LlamaTokenizer";
    if (!m.chat_template.empty()) c["chat_template"] = m.chat_template;
    return c;
  }
};

}  // namespace

std::vector<std::string> supportedGgufPreTokenizers() {
  std::vector<std::string> names;
  for (const PreRow& row : kPreTable) names.emplace_back(row.name);
  return names;
}

std::string hfPreTokenizerJson(const std::string& pre) {
  const auto row =
      std::find_if(std::begin(kPreTable), std::end(kPreTable), [&](const PreRow& r) { return pre == r.name; });
  require(row != std::end(kPreTable), "internal: no pre-tokenizer for tokenizer.ggml.pre '" + pre + "'");
  return preTokenizerFor(row->kind).dump();
}

HfTokenizerFiles hfTokenizerFiles(const GgufTokenizerMetadata& m, const std::string& origin) {
  const Converter c{m, "GGUF '" + origin + "'"};
  c.check();
  ordered_json tokenizer, config;
  if (m.model == "gpt2") {
    const std::string pre = m.pre.empty() ? "default" : m.pre;  // llama.cpp: no pre key is the default split
    const auto row = std::find_if(std::begin(kPreTable), std::end(kPreTable),
                                  [&](const PreRow& r) { return pre == r.name; });
    if (row == std::end(kPreTable)) {
      std::string known;
      for (const std::string& n : supportedGgufPreTokenizers()) known += (known.empty() ? "" : ", ") + n;
      throw Error(c.where + " has tokenizer.ggml.pre '" + pre + "', a pre-tokenizer slmc does not map (supported: " +
                  known + "); pass the model's tokenizer.json with --tokenizer");
    }
    // llama.cpp's defaults when the key is absent: BOS for Llama 3, nothing for other BPE vocabularies.
    const bool add_bos = m.add_bos.value_or(row->kind == PreKind::kLlama3), add_eos = m.add_eos.value_or(false);
    tokenizer = c.byteLevelTokenizer(row->kind, add_bos, add_eos);
    config = c.config(add_bos, add_eos, true);
  } else if (m.model == "llama") {
    const bool add_bos = m.add_bos.value_or(true), add_eos = m.add_eos.value_or(false);
    tokenizer = c.sentencePieceTokenizer(add_bos, add_eos);
    config = c.config(add_bos, add_eos, false);
  } else {
    throw Error(c.where + " has tokenizer.ggml.model '" + m.model +
                "', which slmc does not convert (supported: gpt2, llama); pass the model's tokenizer.json with "
                "--tokenizer");
  }
  return {tokenizer.dump(2), config.dump(2)};
}

}  // namespace slmc::gguf

namespace slmc::gguf {

GgufTokenizerMetadata tokenizerMetadata(const GgufFile& file) {
  GgufTokenizerMetadata m;
  const std::optional<std::string> model = file.getString("tokenizer.ggml.model");
  require(model.has_value(), "GGUF '" + file.path() +
                                 "' holds no tokenizer (no tokenizer.ggml.model); pass a tokenizer.json with --tokenizer");
  m.model = *model;
  m.pre = file.getString("tokenizer.ggml.pre").value_or("");
  m.tokens = file.getStringArray("tokenizer.ggml.tokens");
  m.token_types = file.getIntArray("tokenizer.ggml.token_type");
  m.scores = file.getFloatArray("tokenizer.ggml.scores");
  m.merges = file.getStringArray("tokenizer.ggml.merges");
  m.bos_id = file.getInt("tokenizer.ggml.bos_token_id").value_or(-1);
  m.eos_id = file.getInt("tokenizer.ggml.eos_token_id").value_or(-1);
  m.unk_id = file.getInt("tokenizer.ggml.unknown_token_id").value_or(-1);
  m.pad_id = file.getInt("tokenizer.ggml.padding_token_id").value_or(-1);
  m.add_bos = file.getBool("tokenizer.ggml.add_bos_token");
  m.add_eos = file.getBool("tokenizer.ggml.add_eos_token");
  m.add_space_prefix = file.getBool("tokenizer.ggml.add_space_prefix");
  m.chat_template = file.getString("tokenizer.chat_template").value_or("");
  return m;
}

HfTokenizerFiles hfTokenizerFilesOf(const std::string& path) {
  const std::shared_ptr<const GgufFile> file = GgufFile::open(path);
  return hfTokenizerFiles(tokenizerMetadata(*file), path);
}

}  // namespace slmc::gguf

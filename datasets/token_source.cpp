#include "datasets/token_source.h"

#include <filesystem>

#include "datasets/sample_builder.h"
#include "datasets/sampler.h"
#include "datasets/text_source.h"
#include "datasets/token_dataset_h5.h"
#include "datasets/token_file.h"
#include "datasets/tokenizer.h"
#include "lib/format/gguf/gguf_file.h"
#include "lib/support/error.h"

namespace slmc {

namespace {

void requireTokenizerFits(int64_t tokenizer_vocab, const std::string& tokenizer, const Model& model,
                          const std::string& model_path) {
  // A tokenizer smaller than the embedding is fine (checkpoints often pad the vocabulary to a
  // multiple of 64); a larger one yields ids the model has no row for.
  require(tokenizer_vocab <= model.config.vocab_size,
          "tokenizer " + tokenizer + " has " + std::to_string(tokenizer_vocab) + " tokens but model '" + model_path +
              "' has a vocabulary of " + std::to_string(model.config.vocab_size) +
              " (use the tokenizer the model was trained with)");
}

// The tokenizer for text data: --tokenizer, else the model's own: the vocabulary inside a GGUF, or
// the model directory's tokenizer.json.
std::unique_ptr<Tokenizer> textTokenizer(const TokenSourceOptions& o, const std::string& model_path,
                                         std::string& path) {
  path = o.tokenizer;
  if (path.empty() && std::filesystem::is_regular_file(model_path) && gguf::looksLikeGguf(model_path)) {
    path = model_path;
  } else if (path.empty()) {
    require(std::filesystem::is_directory(model_path),
            o.data_flag + " " + o.data + " is text and model '" + model_path +
                "' is a file with no tokenizer beside it (pass --tokenizer PATH)");
    path = (std::filesystem::path(model_path) / "tokenizer.json").string();
    require(std::filesystem::exists(path),
            "model directory '" + model_path + "' has no tokenizer.json (pass --tokenizer PATH)");
  }
  return loadTokenizer(path);
}

}  // namespace

TokenSource loadTokenSource(const TokenSourceOptions& o, const Model& model, const std::string& model_path) {
  TokenSource out;
  if (!o.tokens.empty()) {
    out.provenance = {{"tokens_file", o.tokens}};
    out.ids = readTokenFile(o.tokens, o.tokens_format);
    if (o.max_tokens > 0 && static_cast<int64_t>(out.ids.size()) > o.max_tokens)
      out.ids.resize(static_cast<size_t>(o.max_tokens));
    return out;
  }
  require(!o.data.empty(), "internal: no token source given");
  if (std::filesystem::is_regular_file(o.data) && isHdf5File(o.data)) {
    TokenDataset d = readTokenDatasetH5(o.data);
    // Datasets from `slmc dataset build` name their tokenizer: check it before using the ids.
    const nlohmann::json tok = d.provenance.is_object() ? d.provenance.value("tokenizer", nlohmann::json()) : nullptr;
    if (tok.is_object() && tok.contains("vocab_size") && tok["vocab_size"].is_number_integer())
      requireTokenizerFits(tok["vocab_size"].get<int64_t>(),
                           "'" + tok.value("path", std::string("?")) + "' (from " + o.data + ")", model, model_path);
    out.provenance = {{"data", o.data}, {"data_kind", "hdf5"}, {"num_samples", d.num_samples}, {"seq_len", d.seq_len}};
    if (d.provenance.is_object() && d.provenance.contains("generator"))
      out.provenance["generator"] = d.provenance["generator"];
    out.dataset_seq_len = d.seq_len;
    if (o.max_tokens > 0 && static_cast<int64_t>(d.input_ids.size()) > o.max_tokens)
      d.input_ids.resize(static_cast<size_t>(o.max_tokens));
    out.ids = std::move(d.input_ids);
    return out;
  }
  const std::vector<std::string> files = expandInputs({o.data});  // a missing path is reported first
  std::string tokenizer_path;
  const std::unique_ptr<Tokenizer> tokenizer = textTokenizer(o, model_path, tokenizer_path);
  requireTokenizerFits(tokenizer->vocabSize(), "'" + tokenizer_path + "'", model, model_path);
  TextSourceOptions text;
  text.format = parseTextFormat(o.text_format);
  text.field = o.field;
  DocumentReader reader(files, text);
  TokenStream stream = tokenizeDocuments(reader, *tokenizer, o.max_tokens);
  out.provenance = {{"data", o.data},
                    {"data_kind", "text"},
                    {"text_format", o.text_format},
                    {"tokenizer", tokenizer_path},
                    {"tokenizer_kind", tokenizer->kind()},
                    {"documents", stream.documents},
                    {"boundary_policy", boundaryPolicyDescription(*tokenizer)}};
  out.ids = std::move(stream.ids);
  return out;
}

SampleSelection selectSamples(const std::vector<int32_t>& stream, int64_t seq_len, int64_t count, uint64_t seed,
                              const std::string& what) {
  require(seq_len >= 2, what + ": sequence length must be at least 2 tokens");
  SampleSelection s;
  s.seq_len = seq_len;
  s.available = static_cast<int64_t>(stream.size()) / seq_len;
  require(s.available > 0 && count <= s.available,
          what + " holds " + std::to_string(stream.size()) + " tokens, " + std::to_string(s.available) +
              " samples of " + std::to_string(seq_len) + "; " + std::to_string(count) +
              " were requested (lower --samples / --seq-len or give more data)");
  const std::vector<int64_t> chosen = sampleIndices(s.available, count, seed);  // ascending: stream order
  const int64_t k = static_cast<int64_t>(chosen.size());
  s.ids.reserve(static_cast<size_t>(k * seq_len));
  for (int64_t i : chosen)
    s.ids.insert(s.ids.end(), stream.begin() + i * seq_len, stream.begin() + (i + 1) * seq_len);
  s.num_samples = k;
  return s;
}

}  // namespace slmc

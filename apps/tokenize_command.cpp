// slmc tokenize MODEL_OR_TOKENIZER (--text T | --file F) [--ids | --pieces] [--no-special] [--bos]
// slmc tokenize MODEL_OR_TOKENIZER --decode 1,2,3
// Output as llama.cpp's llama-tokenize: one line per token `id -> 'piece'` (default), or the ids
// as `[1, 2, 3]` (--ids), or only the pieces, one per line (--pieces).
#include <fstream>
#include <iostream>
#include <sstream>

#include "apps/commands.h"
#include "datasets/hf_tokenizer.h"
#include "datasets/tokenizer.h"
#include "lib/support/error.h"

namespace slmc {

namespace {
struct TokenizeOptions {
  std::string tokenizer;
  std::string text;
  std::string file;
  std::string decode;
  bool ids = false;
  bool pieces = false;
  bool no_special = false;
  bool bos = false;
};

std::vector<int32_t> parseIdList(const std::string& list) {
  std::vector<int32_t> ids;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    const size_t b = item.find_first_not_of(" \t[]"), e = item.find_last_not_of(" \t[]");
    const std::string t = b == std::string::npos ? "" : item.substr(b, e - b + 1);
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(t, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    require(!t.empty() && used == t.size() && v >= 0 && v <= INT32_MAX,
            "--decode: '" + t + "' is not a token id; give non-negative integers separated by commas, e.g. 1,2,3");
    ids.push_back(static_cast<int32_t>(v));
  }
  require(!ids.empty(), "--decode: the list is empty; give token ids separated by commas, e.g. 1,2,3");
  return ids;
}

// The text a token stands for; added (special) tokens as written, since decode skips them.
std::string pieceText(const Tokenizer& tok, int32_t id) {
  if (const auto* hf = dynamic_cast<const HfBpeTokenizer*>(&tok)) {
    const std::string decoded = hf->decode({id});
    return decoded.empty() ? hf->piece(id) : decoded;
  }
  return tok.decode({id});
}

void runTokenize(const TokenizeOptions& o) {
  const auto tok = loadTokenizer(o.tokenizer);
  if (!o.decode.empty()) {
    std::cout << tok->decode(parseIdList(o.decode)) << "\n";
    return;
  }
  std::string text = o.text;
  if (!o.file.empty()) {
    std::ifstream in(o.file, std::ios::binary);
    require(in.good(), "--file '" + o.file + "' cannot be read; check the path");
    std::ostringstream s;
    s << in.rdbuf();
    text = s.str();
  }
  std::vector<int32_t> ids;
  const auto* hf = dynamic_cast<const HfBpeTokenizer*>(tok.get());
  if (o.no_special && hf)
    ids = hf->encode(text, o.bos, /*match_added_tokens=*/false);
  else
    ids = tok->encode(text, o.bos);
  if (o.ids) {
    std::cout << "[";
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? ", " : "") << ids[i];
    std::cout << "]\n";
    return;
  }
  for (int32_t id : ids) {
    if (o.pieces)
      std::cout << pieceText(*tok, id) << "\n";
    else
      std::cout << id << " -> '" << pieceText(*tok, id) << "'\n";
  }
}
}  // namespace

void setupTokenize(CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  CLI::App* sub = app.add_subcommand("tokenize", "Show the token ids of a text, or the text of token ids");
  sub->add_option("tokenizer", opts->tokenizer, "tokenizer.json, tokenizer.model, tokenizer.bin or a model directory")
      ->required();
  auto* text = sub->add_option("--text", opts->text, "text to tokenize");
  auto* file = sub->add_option("--file", opts->file, "file whose text to tokenize");
  auto* decode = sub->add_option("--decode", opts->decode, "comma-separated token ids to decode, e.g. 1,2,3");
  text->excludes(file)->excludes(decode);
  file->excludes(decode);
  auto* ids = sub->add_flag("--ids", opts->ids, "print only the ids, as [1, 2, 3]");
  auto* pieces = sub->add_flag("--pieces", opts->pieces, "print only the pieces, one per line");
  ids->excludes(pieces);
  sub->add_flag("--no-special", opts->no_special, "do not match special/added tokens written in the text");
  sub->add_flag("--bos", opts->bos, "prepend the BOS token");
  sub->callback([opts, sub] {
    if (opts->decode.empty() && sub->count("--text") == 0 && sub->count("--file") == 0)
      throw CLI::RequiredError("one of --text, --file or --decode");
    runTokenize(*opts);
  });
}

}  // namespace slmc

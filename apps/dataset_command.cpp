// slmc dataset build --tokenizer PATH --input FILE|DIR [--input ...] [--format F] [--field NAME]
//                    --seq-len N [--samples K] [--seed S] -o data.h5 [--json report.json]
// Text in, an HDF5 token dataset out: documents are tokenized and cut into samples by the policy
// in datasets/sample_builder.h and chosen by datasets/sampler.h.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "datasets/sample_builder.h"
#include "datasets/sampler.h"
#include "datasets/text_source.h"
#include "datasets/token_dataset_h5.h"
#include "datasets/tokenizer.h"
#include "lib/atomic_file.h"
#include "lib/error.h"
#include "lib/version.h"

namespace slmc {

namespace {
struct DatasetBuildOptions {
  std::string tokenizer;
  std::vector<std::string> inputs;
  std::string format = "auto";
  std::string field = "text";
  int64_t seq_len = 0;
  int64_t samples = 0;
  uint64_t seed = 0;
  std::string output;
  std::string json_out;
};

// Fails before any tokenizing when an output could not be written anyway.
void requireWritableLocation(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  require(parent.empty() || std::filesystem::is_directory(parent),
          "cannot write '" + path + "': directory '" + parent.string() + "' does not exist (create it first)");
  require(!std::filesystem::is_directory(path), "cannot write '" + path + "': it is a directory (name a file)");
}

nlohmann::json provenanceOf(const DatasetBuildOptions& o, const Tokenizer& tokenizer, const TokenSamples& s) {
  nlohmann::json sources = nlohmann::json::array();
  for (const SourceFile& f : s.files)
    sources.push_back(
        {{"path", f.path}, {"format", f.format}, {"bytes", f.bytes}, {"documents", f.documents}, {"sha256", f.sha256}});
  return {{"schema", "slmc-token-dataset"},
          {"schema_version", 1},
          {"slmc_version", kVersion},
          {"sources", sources},
          {"text_format", o.format},
          {"jsonl_field", o.field},
          {"tokenizer",
           {{"path", o.tokenizer},
            {"kind", tokenizer.kind()},
            {"vocab_size", tokenizer.vocabSize()},
            {"bos_id", tokenizer.bosId()},
            {"eos_id", tokenizer.eosId()}}},
          {"seq_len", s.seq_len},
          {"num_samples", s.numSamples()},
          {"requested_samples", o.samples},
          {"seed", o.seed},
          {"sampler", o.samples == 0 ? "all samples in stream order"
                                     : "mt19937_64(seed) + reservoir (Algorithm R), kept samples in stream order"},
          {"boundary_policy", boundaryPolicyDescription(tokenizer)},
          {"candidate_samples", s.candidates},
          {"documents", s.documents},
          {"tokens", s.tokens},
          {"dropped_tail_tokens", s.dropped_tail_tokens},
          {"sample_stream_indices", s.stream_indices}};
}

void runDatasetBuild(const DatasetBuildOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  requireWritableLocation(o.output);
  if (!o.json_out.empty()) requireWritableLocation(o.json_out);
  TextSourceOptions text;
  text.format = parseTextFormat(o.format);
  text.field = o.field;
  const std::vector<std::string> files = expandInputs(o.inputs);
  const std::unique_ptr<Tokenizer> tokenizer = loadTokenizer(o.tokenizer);

  DocumentReader reader(files, text);
  const TokenSamples s = sampleTokens(reader, *tokenizer, SamplerOptions{o.samples, o.seq_len, o.seed});
  TokenDataset dataset;
  dataset.num_samples = s.numSamples();
  dataset.seq_len = s.seq_len;
  dataset.input_ids = s.ids;
  dataset.provenance = provenanceOf(o, *tokenizer, s);
  writeTokenDatasetH5(o.output, dataset);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("dataset  %lld samples x %lld tokens -> %s\n", static_cast<long long>(s.numSamples()),
              static_cast<long long>(s.seq_len), o.output.c_str());
  std::printf("source   %zu files  %lld documents  %lld tokens  %lld samples available  %lld tail tokens dropped\n",
              s.files.size(), static_cast<long long>(s.documents), static_cast<long long>(s.tokens),
              static_cast<long long>(s.candidates), static_cast<long long>(s.dropped_tail_tokens));
  std::printf("time     %.2fs  (%.0f tokens/s)\n", seconds, static_cast<double>(s.tokens) / seconds);
  if (!o.json_out.empty()) {
    nlohmann::json report = {{"schema_version", 1},
                             {"slmc_version", kVersion},
                             {"command", "dataset build"},
                             {"output", o.output},
                             {"num_samples", s.numSamples()},
                             {"seq_len", s.seq_len},
                             {"candidate_samples", s.candidates},
                             {"documents", s.documents},
                             {"tokens", s.tokens},
                             {"dropped_tail_tokens", s.dropped_tail_tokens},
                             {"seconds", seconds},
                             {"tokens_per_second", static_cast<double>(s.tokens) / seconds},
                             {"provenance", dataset.provenance}};
    writeFileAtomically(o.json_out, report.dump(2) + "\n");
  }
}
}  // namespace

void setupDataset(CLI::App& app) {
  CLI::App* dataset = app.add_subcommand("dataset", "Build token datasets from text (calibration and evaluation)");
  dataset->require_subcommand(1);
  auto opts = std::make_shared<DatasetBuildOptions>();
  CLI::App* build = dataset->add_subcommand(
      "build", "Tokenize text into fixed-length samples (BOS per document, tail dropped) and write HDF5");
  build->add_option("--tokenizer", opts->tokenizer,
                    "tokenizer.json, llama2.c tokenizer.bin, SentencePiece tokenizer.model, or a model directory")
      ->required();
  build->add_option("--input", opts->inputs, "text file, or directory of .txt/.jsonl files (repeatable)")
      ->required()
      ->take_all();
  build
      ->add_option("--format", opts->format,
                   "auto (jsonl for .jsonl, else paragraphs), text (whole file), lines, paragraphs, jsonl")
      ->check(CLI::IsMember({"auto", "text", "lines", "paragraphs", "jsonl"}));
  build->add_option("--field", opts->field, "JSONL field holding the text");
  build->add_option("--seq-len", opts->seq_len, "tokens per sample")
      ->required()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  build->add_option("--samples", opts->samples, "samples to draw (0: every sample the data provides)")
      ->check(CLI::NonNegativeNumber);
  build->add_option("--seed", opts->seed, "seed of the sample draw (mt19937_64)");
  build->add_option("-o,--output", opts->output, "output HDF5 file")->required();
  build->add_option("--json", opts->json_out, "also write a JSON report to this file");
  build->callback([opts] { runDatasetBuild(*opts); });
}

}  // namespace slmc

// slmc dataset build --tokenizer PATH --input FILE|DIR [--input ...] [--format F] [--field NAME]
//                    --seq-len N [--samples K] [--seed S] -o data.h5 [--json report.json]
// Text in, an HDF5 token dataset out: documents are tokenized and cut into samples by the policy
// in datasets/sample_builder.h and chosen by datasets/sampler.h.
//
// slmc dataset generate MODEL --samples N --seq-len L [--seed S] [--temperature T] [--top-k K]
//                       [--batch B] -o data.h5 [--json report.json]
// Samples from the model itself (data-free calibration: no tokenizer or text needed): every row
// is BOS followed by L-1 tokens drawn by ReferenceModel::generate. Rows are generated B at a time;
// batch i uses the seed of the i-th draw of mt19937_64(--seed), so --seed and --batch together
// fix the file byte for byte (on the same thread count).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "datasets/sample_builder.h"
#include "datasets/sampler.h"
#include "datasets/sha256.h"
#include "datasets/text_source.h"
#include "datasets/token_dataset_h5.h"
#include "datasets/tokenizer.h"
#include "lib/format/checkpoint.h"
#include "lib/reference/reference_model.h"
#include "lib/reference/self_generated.h"
#include "lib/support/atomic_file.h"
#include "lib/support/error.h"
#include "lib/support/progress.h"
#include "lib/support/version.h"

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

struct DatasetGenerateOptions {
  std::string model;
  int64_t samples = 0;
  int64_t seq_len = 0;
  uint64_t seed = 0;
  double temperature = 1.0;
  int64_t top_k = 0;
  int64_t batch = 16;
  std::string output;
  std::string json_out;
  int threads = 0;  // from the global --threads
  bool quiet = false;
};

// The model's bytes for provenance: the file's sha256, or each regular file of a directory.
nlohmann::json modelDigests(const std::string& path) {
  if (!std::filesystem::is_directory(path)) return {{"path", path}, {"sha256", sha256File(path)}};
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(path))
    if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  nlohmann::json files = nlohmann::json::array();
  for (const std::string& name : names)
    files.push_back({{"name", name}, {"sha256", sha256File((std::filesystem::path(path) / name).string())}});
  return {{"path", path}, {"files", files}};
}

void runDatasetGenerate(const DatasetGenerateOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  require(o.samples >= 1, "--samples must be at least 1, got " + std::to_string(o.samples));
  require(o.seq_len >= 2, "--seq-len must be at least 2 (BOS plus one generated token), got " +
                              std::to_string(o.seq_len));
  require(std::isfinite(o.temperature) && o.temperature >= 0,
          "--temperature must be >= 0 (0: greedy), got " + std::to_string(o.temperature));
  require(o.top_k >= 0, "--top-k must be >= 0 (0: whole vocabulary), got " + std::to_string(o.top_k));
  require(o.batch >= 1, "--batch must be at least 1, got " + std::to_string(o.batch));
  requireWritableLocation(o.output);
  if (!o.json_out.empty()) requireWritableLocation(o.json_out);
  setComputeThreads(o.threads);
  const Model model = loadModel(o.model);
  const ModelConfig& c = model.config;
  require(o.seq_len <= c.max_position_embeddings,
          "--seq-len " + std::to_string(o.seq_len) + " exceeds the context of model '" + o.model + "' (" +
              std::to_string(c.max_position_embeddings) + " tokens; use a smaller --seq-len)");
  require(c.bos_token_id >= 0 && c.bos_token_id < c.vocab_size,
          "model '" + o.model + "' has BOS id " + std::to_string(c.bos_token_id) + " outside its vocabulary of " +
              std::to_string(c.vocab_size) + " (fix bos_token_id in its config)");
  const nlohmann::json digests = modelDigests(o.model);
  const ReferenceModel reference(model);

  TokenDataset dataset;
  dataset.num_samples = o.samples;
  dataset.seq_len = o.seq_len;
  ReferenceModel::SamplingOptions sampling;
  sampling.temperature = o.temperature;
  sampling.top_k = o.top_k;
  sampling.seed = o.seed;
  Progress progress("generate", o.quiet);
  dataset.input_ids = generateFromBos(reference, o.samples, o.seq_len, o.batch, sampling,
                                      [&](int64_t done, int64_t total) { progress.update(done, total); });
  const double gen_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t generated = o.samples * (o.seq_len - 1);
  dataset.provenance = {{"schema", "slmc-token-dataset"},
                        {"schema_version", 1},
                        {"slmc_version", kVersion},
                        {"generator",
                         {{"method", "sampled from the model (data-free calibration): BOS, then seq_len-1 tokens"},
                          {"model", digests},
                          {"vocab_size", c.vocab_size},
                          {"bos_id", c.bos_token_id},
                          {"seed", o.seed},
                          {"temperature", o.temperature},
                          {"top_k", o.top_k},
                          {"batch", o.batch},
                          {"sampler",
                           "per batch: mt19937_64(i-th draw of mt19937_64(seed)), 53-bit uniforms, float64 "
                           "probabilities"}}},
                        {"seq_len", o.seq_len},
                        {"num_samples", o.samples}};
  writeTokenDatasetH5(o.output, dataset);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("dataset  %lld samples x %lld tokens -> %s\n", static_cast<long long>(o.samples),
              static_cast<long long>(o.seq_len), o.output.c_str());
  std::printf("sampling temperature %g  top-k %lld  seed %llu  batch %lld\n", o.temperature,
              static_cast<long long>(o.top_k), static_cast<unsigned long long>(o.seed),
              static_cast<long long>(o.batch));
  std::printf("time     %.2fs  (%.0f generated tokens/s, threads %d)\n", seconds,
              static_cast<double>(generated) / gen_seconds, computeThreads());
  if (!o.json_out.empty()) {
    nlohmann::json report = {{"schema_version", 1},
                             {"slmc_version", kVersion},
                             {"command", "dataset generate"},
                             {"output", o.output},
                             {"num_samples", o.samples},
                             {"seq_len", o.seq_len},
                             {"generated_tokens", generated},
                             {"seconds", seconds},
                             {"generated_tokens_per_second", static_cast<double>(generated) / gen_seconds},
                             {"threads", computeThreads()},
                             {"provenance", dataset.provenance}};
    writeFileAtomically(o.json_out, report.dump(2) + "\n");
  }
}
}  // namespace

void setupDataset(CLI::App& app) {
  CLI::App* dataset = app.add_subcommand("dataset", "Build token datasets from text, or generate them from a model (calibration and evaluation)");
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

  auto gen = std::make_shared<DatasetGenerateOptions>();
  CLI::App* generate = dataset->add_subcommand(
      "generate",
      "Sample token sequences from the model itself and write HDF5 (each row: BOS, then seq-len - 1 sampled "
      "tokens). Self-generated text is a known data-free calibration technique: it stands in for a corpus when the "
      "model's tokenizer or training text is not at hand");
  generate->add_option("model", gen->model, "Hugging Face model directory, GGUF or llama2.c .bin")->required();
  // Ranges are checked in runDatasetGenerate so that a bad value is one `slmc: error:` line.
  generate->add_option("--samples", gen->samples, "sequences to generate")->required();
  generate->add_option("--seq-len", gen->seq_len, "tokens per sequence, BOS included (at most the model's context)")
      ->required();
  generate->add_option("--seed", gen->seed, "sampling seed (with --batch, fixes the output byte for byte)")
      ->capture_default_str();
  generate->add_option("--temperature", gen->temperature, "softmax temperature (0: greedy argmax)")->capture_default_str();
  generate->add_option("--top-k", gen->top_k, "sample among the k most likely tokens (0: whole vocabulary)")
      ->capture_default_str();
  generate->add_option("--batch", gen->batch, "sequences generated together")->capture_default_str();
  generate->add_option("-o,--output", gen->output, "output HDF5 file")->required();
  generate->add_option("--json", gen->json_out, "also write a JSON report to this file");
  // setupDataset does not receive CommonOptions: read the global --threads / --quiet from the root.
  CLI::App* root = &app;
  generate->callback([gen, root] {
    if (const CLI::Option* t = root->get_option_no_throw("--threads"); t && t->count() > 0)
      gen->threads = t->as<int>();
    if (const CLI::Option* q = root->get_option_no_throw("--quiet")) gen->quiet = q->count() > 0;
    runDatasetGenerate(*gen);
  });
}

}  // namespace slmc

#include <doctest/doctest.h>

#include <random>

#include "datasets/sha256.h"
#include "datasets/token_dataset_h5.h"
#include "lib/format/checkpoint.h"
#include "lib/reference/reference_model.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

TEST_CASE("cli dataset generate: stories260K rows start with BOS, match generate(), and reproduce byte for byte") {
  ScratchDir dir("cli-dataset-generate");
  const std::string model = stories260K();
  const std::string args = "dataset generate " + model + " --samples 5 --seq-len 48 --batch 2 --top-k 40";
  const auto r = runSlmc(args + " --seed 3 -o " + (dir / "g.h5") + " --json " + (dir / "r.json"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out.find("5 samples x 48 tokens") != std::string::npos);

  const TokenDataset d = readTokenDatasetH5(dir / "g.h5");
  REQUIRE(d.num_samples == 5);
  REQUIRE(d.seq_len == 48);
  REQUIRE(d.input_ids.size() == 5 * 48);
  for (int64_t row = 0; row < 5; ++row) CHECK(d.input_ids[static_cast<size_t>(row * 48)] == 1);  // BOS
  for (int32_t id : d.input_ids) CHECK((id >= 0 && id < 512));

  const auto& g = d.provenance["generator"];
  CHECK(d.provenance["schema"] == "slmc-token-dataset");
  CHECK(g["model"]["path"] == model);
  CHECK(g["model"]["sha256"] == sha256File(model));
  CHECK(g["seed"] == 3);
  CHECK(g["temperature"] == 1.0);
  CHECK(g["top_k"] == 40);
  CHECK(g["batch"] == 2);
  CHECK(g["bos_id"] == 1);
  CHECK(readJson(dir / "r.json")["provenance"] == d.provenance);

  // Batch i is generate() seeded with the i-th draw of mt19937_64(seed): rows 0-1 are the first batch.
  std::mt19937_64 seeds(3);
  ReferenceModel::SamplingOptions o;
  o.top_k = 40;
  o.seed = seeds();
  const std::vector<int32_t> first = ReferenceModel(loadModel(model)).generate({1, 1}, 2, 1, 47, o);
  CHECK(std::equal(first.begin(), first.end(), d.input_ids.begin()));

  // Self-generated text is text the model finds likely: far below the 512-token uniform NLL.
  const ReferenceModel reference(loadModel(model));
  const std::vector<float> nll = reference.nextTokenNll(d.input_ids, 5, 48);
  double mean = 0;
  for (float v : nll) mean += v;
  mean /= static_cast<double>(nll.size());
  MESSAGE("stories260K mean NLL on its own samples (top-k 40): " << mean);
  CHECK(mean < 3.0);

  // Same seed: the same bytes. Another seed: other rows.
  REQUIRE(runSlmc(args + " --seed 3 -o " + (dir / "same.h5")).exit_code == 0);
  CHECK(readFile(dir / "same.h5") == readFile(dir / "g.h5"));
  REQUIRE(runSlmc(args + " --seed 4 -o " + (dir / "other.h5")).exit_code == 0);
  CHECK(readTokenDatasetH5(dir / "other.h5").input_ids != d.input_ids);
}

TEST_CASE("cli dataset generate: greedy decoding gives identical rows") {
  ScratchDir dir("cli-dataset-generate-greedy");
  const auto r = runSlmc("dataset generate " + stories260K() + " --samples 3 --seq-len 16 --temperature 0 -o " +
                         (dir / "g.h5"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const TokenDataset d = readTokenDatasetH5(dir / "g.h5");
  REQUIRE(d.input_ids.size() == 3 * 16);
  CHECK(std::equal(d.input_ids.begin(), d.input_ids.begin() + 16, d.input_ids.begin() + 16));
  CHECK(std::equal(d.input_ids.begin(), d.input_ids.begin() + 16, d.input_ids.begin() + 32));
}

TEST_CASE("cli dataset generate: bad options give one error line and no output file") {
  ScratchDir dir("cli-dataset-generate-bad");
  const std::string model = stories260K();
  const std::string out = " -o " + (dir / "g.h5");
  expectError(runSlmc("dataset generate " + model + " --samples 0 --seq-len 16" + out), "--samples must be at least 1");
  expectError(runSlmc("dataset generate " + model + " --samples 2 --seq-len 1" + out), "--seq-len must be at least 2");
  expectError(runSlmc("dataset generate " + model + " --samples 2 --seq-len 100000" + out),
              "--seq-len 100000 exceeds the context of model");
  expectError(runSlmc("dataset generate " + (dir / "missing.bin") + " --samples 2 --seq-len 16" + out),
              "missing.bin' does not exist");
  expectError(runSlmc("dataset generate " + model + " --samples 2 --seq-len 16 --temperature -1" + out),
              "--temperature must be >= 0");
  expectError(runSlmc("dataset generate " + model + " --samples 2 --seq-len 16 --top-k -3" + out),
              "--top-k must be >= 0");
  expectError(runSlmc("dataset generate " + model + " --samples 2 --seq-len 16 --batch 0" + out),
              "--batch must be at least 1");
  expectError(runSlmc("dataset generate " + model + " --samples 2 --seq-len 16 -o " + (dir / "no/such/dir.h5")),
              "directory");
  CHECK(dir.entries() == 0);
  // A usage error (missing required option) exits with 2.
  CHECK(runSlmc("dataset generate " + model + " --seq-len 16" + out).exit_code == 2);
  CHECK(dir.entries() == 0);
}

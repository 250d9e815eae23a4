#include <doctest/doctest.h>
#include <hdf5.h>

#include "datasets/token_dataset_h5.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {
TokenDataset example() {
  TokenDataset d;
  d.num_samples = 3;
  d.seq_len = 4;
  d.input_ids = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 31999};
  d.provenance = {{"schema", "slmc-token-dataset"},
                  {"sources", {{{"path", "a.txt"}, {"sha256", "ab12"}}}},
                  {"tokenizer", {{"kind", "llama2c"}, {"vocab_size", 32000}}},
                  {"note", "caf\xc3\xa9"}};
  return d;
}

// Writes `data` as dataset `name` of HDF5 type `type` and shape `dims` with the raw C API, to
// build files of the wrong layout on purpose.
void writeRaw(const std::string& path, const char* name, hid_t type, std::vector<hsize_t> dims, const void* data) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(file >= 0);
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t dataset = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(dataset >= 0);
  REQUIRE(H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
  H5Dclose(dataset);
  H5Sclose(space);
  H5Fclose(file);
}
}  // namespace

TEST_CASE("dataset h5: write -> read round trip keeps ids and provenance") {
  ScratchDir dir("h5-roundtrip");
  const TokenDataset d = example();
  writeTokenDatasetH5(dir / "d.h5", d);
  CHECK(dir.entries() == 1);  // no temp file left
  CHECK(isHdf5File(dir / "d.h5"));
  const TokenDataset back = readTokenDatasetH5(dir / "d.h5");
  CHECK(back.num_samples == 3);
  CHECK(back.seq_len == 4);
  CHECK(back.input_ids == d.input_ids);
  CHECK(back.provenance == d.provenance);
  // Deterministic: no timestamps in the file.
  writeTokenDatasetH5(dir / "again.h5", d);
  CHECK(readFile(dir / "again.h5") == readFile(dir / "d.h5"));
  // Overwriting an existing file works (rename over it).
  TokenDataset smaller = d;
  smaller.num_samples = 1;
  smaller.input_ids.resize(4);
  writeTokenDatasetH5(dir / "d.h5", smaller);
  CHECK(readTokenDatasetH5(dir / "d.h5").num_samples == 1);
}

TEST_CASE("dataset h5: files from other tools (int64, no provenance) are read") {
  ScratchDir dir("h5-foreign");
  const std::vector<int64_t> ids = {5, 6, 7, 8, 9, 10};
  writeRaw(dir / "i64.h5", "input_ids", H5T_NATIVE_INT64, {2, 3}, ids.data());
  const TokenDataset d = readTokenDatasetH5(dir / "i64.h5");
  CHECK(d.num_samples == 2);
  CHECK(d.seq_len == 3);
  CHECK(d.input_ids == std::vector<int32_t>{5, 6, 7, 8, 9, 10});
  CHECK(d.provenance.is_null());
}

TEST_CASE("dataset h5: wrong layouts are rejected with the fix") {
  ScratchDir dir("h5-bad");
  const std::vector<int32_t> ids = {1, 2, 3, 4};
  writeRaw(dir / "name.h5", "tokens", H5T_NATIVE_INT32, {2, 2}, ids.data());
  CHECK_THROWS_WITH_AS(readTokenDatasetH5(dir / "name.h5"), doctest::Contains("no /input_ids dataset"), Error);
  const std::vector<float> floats = {1, 2, 3, 4};
  writeRaw(dir / "float.h5", "input_ids", H5T_NATIVE_FLOAT, {2, 2}, floats.data());
  CHECK_THROWS_WITH_AS(readTokenDatasetH5(dir / "float.h5"),
                       doctest::Contains("/input_ids holds floating-point values, not token ids"), Error);
  writeRaw(dir / "rank1.h5", "input_ids", H5T_NATIVE_INT32, {4}, ids.data());
  CHECK_THROWS_WITH_AS(readTokenDatasetH5(dir / "rank1.h5"), doctest::Contains("/input_ids has rank 1, not 2"), Error);
  const std::vector<int32_t> negative = {1, 2, -3, 4};
  writeRaw(dir / "neg.h5", "input_ids", H5T_NATIVE_INT32, {2, 2}, negative.data());
  CHECK_THROWS_WITH_AS(readTokenDatasetH5(dir / "neg.h5"),
                       doctest::Contains("/input_ids[1][0] = -3 is not a valid token id"), Error);
  writeFile(dir / "text.h5", "not hdf5 at all");
  CHECK_THROWS_WITH_AS(readTokenDatasetH5(dir / "text.h5"), doctest::Contains("not an HDF5 file"), Error);
  CHECK_FALSE(isHdf5File(dir / "text.h5"));
  CHECK_THROWS_WITH_AS(readTokenDatasetH5(dir / "missing.h5"), doctest::Contains("does not exist"), Error);
  // Truncated: the signature is there but the file ends early.
  writeTokenDatasetH5(dir / "whole.h5", example());
  writeFile(dir / "cut.h5", readFile(dir / "whole.h5").substr(0, 700));
  CHECK_THROWS_AS(readTokenDatasetH5(dir / "cut.h5"), Error);
}

TEST_CASE("dataset h5: failed writes leave nothing behind") {
  ScratchDir dir("h5-write-bad");
  CHECK_THROWS_WITH_AS(writeTokenDatasetH5(dir / "missing/d.h5", example()),
                       doctest::Contains(("directory '" + (dir / "missing") + "' does not exist").c_str()), Error);
  TokenDataset wrong = example();
  wrong.input_ids.pop_back();
  CHECK_THROWS_WITH_AS(writeTokenDatasetH5(dir / "d.h5", wrong), doctest::Contains("11 ids do not fill [3, 4]"), Error);
  CHECK(dir.entries() == 0);
}

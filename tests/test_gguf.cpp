// The GGUF reader and dequantization: every metadata type and tensor type of a fixture written
// by the PyPI gguf package (scripts/make_gguf_fixtures.py), dequantized bit-exact against the
// package's own dequantize, and damaged files (built on purpose, as llama.cpp's test-gguf.cpp)
// each rejected with one line naming the file and the problem.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "lib/format/gguf/gguf_dequantize.h"
#include "lib/format/gguf/gguf_file.h"
#include "lib/format/gguf/gguf_types.h"
#include "lib/support/error.h"
#include "tests/gguf_builder.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::gguf;
using namespace slmc::test;

namespace {

std::string allTypes() { return fixture("gguf/all_types.gguf"); }

const char* const kTypeOrder[] = {"F32",  "F16",  "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0",
                                  "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"};

// Opens `bytes` written to a scratch file (so messages name a real path); returns the error.
std::string openError(const std::string& bytes, const std::string& name = "bad.gguf") {
  ScratchDir dir("gguf-bad");
  const std::string path = dir / name;
  writeFile(path, bytes);
  return errorOf([&] { GgufFile::open(path); });
}

std::string withByte(std::string s, size_t at, char c) {
  s[at] = c;
  return s;
}

GgufBuilder wellFormed() {
  GgufBuilder b;
  b.string("general.architecture", "test").uint32("general.alignment", 32);
  b.f32("a", {32, 2}).f32("b", {64});
  return b;
}

}  // namespace

TEST_CASE("gguf: the fixture's header and every metadata value type") {
  const auto f = GgufFile::open(allTypes());
  CHECK(f->version() == 3);
  CHECK(f->path() == allTypes());
  CHECK(f->alignment() == 32);
  CHECK(f->getString("general.architecture") == "test");
  CHECK(f->getInt("test.u8") == 200);
  CHECK(f->getInt("test.i8") == -100);
  CHECK(f->getInt("test.u16") == 60000);
  CHECK(f->getInt("test.i16") == -30000);
  CHECK(f->getInt("test.u32") == 4000000000LL);
  CHECK(f->getInt("test.i32") == -2000000000LL);
  CHECK(f->getInt("test.u64") == (int64_t{1} << 40));
  CHECK(f->getInt("test.i64") == -(int64_t{1} << 40));
  CHECK(f->getFloat("test.f32") == 0.25);
  CHECK(f->getFloat("test.f64") == 1e-300);
  CHECK(f->getBool("test.bool") == true);
  CHECK(f->getString("test.string") == "h\xc3\xa9llo");
  CHECK(f->getStringArray("test.strings") == std::vector<std::string>{"a", "", "ccc"});
  CHECK(f->getIntArray("test.ints") == std::vector<int64_t>{1, -2, 3});
  CHECK(f->getFloatArray("test.floats") == std::vector<float>{0.5f, -1.5f});
  CHECK(f->find("test.ints")->typeName() == "array of int16");

  CHECK_FALSE(f->has("test.absent"));
  CHECK_FALSE(f->getString("test.absent").has_value());
  CHECK(f->getStringArray("test.absent").empty());
  checkError(errorOf([&] { f->getString("test.u32"); }), "metadata 'test.u32' is uint32, expected string");
  checkError(errorOf([&] { f->getInt("test.bool"); }), "metadata 'test.bool' is bool, expected an integer");
  checkError(errorOf([&] { f->getFloat("test.i8"); }), "metadata 'test.i8' is int8, expected float32 or float64");
  checkError(errorOf([&] { f->getIntArray("test.strings"); }),
             "metadata 'test.strings' is array of string, expected an array of integers");
  checkError(errorOf([&] { f->getStringArray("test.string"); }), "'test.string' is string, expected array of string");
}

TEST_CASE("gguf: every supported type dequantizes bit-exactly as the gguf package does") {
  const auto f = GgufFile::open(allTypes());
  const std::string golden = readFile(fixture("gguf/all_types.f32"));
  REQUIRE(f->tensors().size() == std::size(kTypeOrder));
  REQUIRE(golden.size() == std::size(kTypeOrder) * 512 * 4);
  size_t at = 0;
  for (size_t i = 0; i < std::size(kTypeOrder); ++i) {
    const TensorInfo& t = f->tensors()[i];
    CAPTURE(t.name);
    CHECK(std::string(ggmlType(t.type).name) == kTypeOrder[i]);
    CHECK(t.ne == std::vector<int64_t>{256, 2});
    CHECK(f->findTensor(t.name) == &t);
    CHECK(t.bytes == static_cast<size_t>(512 / ggmlType(t.type).block_size) * ggmlType(t.type).block_bytes);
    const std::vector<float> values = dequantizeTensor(t);
    REQUIRE(values.size() == 512);
    // Bit patterns, not values: -0.0 vs 0.0 or a last-bit rounding difference must fail.
    CHECK(std::memcmp(values.data(), golden.data() + at, 512 * 4) == 0);
    at += 512 * 4;
  }
  CHECK(f->findTensor("absent") == nullptr);
}

TEST_CASE("gguf: a type slmc cannot dequantize is refused by name") {
  const auto f = GgufFile::open(fixture("gguf/unsupported.gguf"));  // the layout itself is valid
  REQUIRE(f->tensors().size() == 1);
  const std::string err = errorOf([&] { dequantizeTensor(f->tensors()[0]); });
  checkError(err, "tensor 'iq' has type IQ2_XXS, which slmc cannot read; supported: F32, F16, Q4_0");
  checkError(err, "Q6_K, BF16");
}

TEST_CASE("gguf: the builder's well-formed file opens (so each damage below is the only fault)") {
  ScratchDir dir("gguf-good");
  writeFile(dir / "good.gguf", wellFormed().bytes());
  const auto f = GgufFile::open(dir / "good.gguf");
  REQUIRE(f->tensors().size() == 2);
  CHECK(f->tensors()[1].offset == 256);
  CHECK(dequantizeTensor(f->tensors()[1]) == std::vector<float>(64, 0.5f));
  GgufBuilder v2 = wellFormed();
  v2.version = 2;
  writeFile(dir / "v2.gguf", v2.bytes());
  CHECK(GgufFile::open(dir / "v2.gguf")->version() == 2);
}

TEST_CASE("gguf: damaged headers are rejected with one line naming the file and the fault") {
  const std::string good = readFile(allTypes());
  checkError(openError(withByte(good, 0, 'X')), "bad.gguf: not a GGUF file (bad magic");
  checkError(openError(good.substr(0, 3)), "not a GGUF file");
  checkError(openError(withByte(good, 4, 1)), "GGUF version 1 is not supported (slmc reads versions 2 and 3");
  checkError(openError(withByte(good, 4, 4)), "GGUF version 4 is not supported");
  checkError(openError(good.substr(0, 100)), "bad.gguf: the header claims 16 metadata entries, more than the file's 100 bytes");
  checkError(openError(good.substr(0, 460)), "bad.gguf: truncated: metadata 'test.ints'");
  checkError(openError(good.substr(0, 530)), "bad.gguf: truncated: tensor 'f32'");
  checkError(openError(good.substr(0, 20)), "bad.gguf: truncated: metadata count");

  GgufBuilder many = wellFormed();
  many.claimed_tensor_count = int64_t{1} << 40;
  checkError(openError(many.bytes()), "claims 1099511627776 tensors, more than the file's");
  std::string huge_kv = good;
  const uint64_t kv = uint64_t{1} << 50;
  std::memcpy(huge_kv.data() + 16, &kv, 8);
  checkError(openError(huge_kv), "metadata entries, more than the file's");
}

TEST_CASE("gguf: damaged metadata is rejected naming the key") {
  checkError(openError(wellFormed().string("general.architecture", "again").bytes()),
             "duplicate metadata key 'general.architecture'");
  checkError(openError(wellFormed().raw("k", GgufBuilder::u32(13) + "xxxx").bytes()),
             "metadata 'k' has unknown value type 13");
  checkError(openError(wellFormed().raw("k", GgufBuilder::u32(9) + GgufBuilder::u32(9) + GgufBuilder::u64(0)).bytes()),
             "metadata 'k' is an array of arrays");
  checkError(openError(wellFormed().raw("k", GgufBuilder::u32(9) + GgufBuilder::u32(4) + GgufBuilder::u64(uint64_t{1} << 40)).bytes()),
             "metadata 'k' claims");
  checkError(openError(wellFormed().raw("k", GgufBuilder::u32(8) + GgufBuilder::u64(uint64_t{1} << 60)).bytes()),
             "metadata 'k' at byte");
  GgufBuilder odd;
  odd.uint32("general.alignment", 48).f32("a", {32});
  odd.alignment = 48;
  checkError(openError(odd.bytes()), "metadata 'general.alignment' is 48, not a power of two");
  GgufBuilder typed;
  typed.string("general.alignment", "32");
  checkError(openError(typed.bytes()), "metadata 'general.alignment' is string, not uint32");
}

TEST_CASE("gguf: damaged tensor infos and data are rejected naming the tensor") {
  checkError(openError(wellFormed().f32("a", {32}).bytes()), "duplicate tensor name 'a'");
  checkError(openError(wellFormed().tensor({"u", 77, {32}, std::string(128, '\0')}).bytes()),
             "tensor 'u' has unknown ggml type 77");
  checkError(openError(wellFormed().tensor({"r", 2, {48}, std::string(36, '\0')}).bytes()),
             "tensor 'r' has rows of 48 values, not a multiple of Q4_0's block size 32");
  checkError(openError(wellFormed().tensor({"z", 0, {32, 0}, ""}).bytes()),
             "tensor 'z' has dimension 1 = 0; every dimension must be positive");
  checkError(openError(wellFormed().tensor({"d", 0, {1, 1, 1, 1, 1}, "xxxx"}).bytes()),
             "tensor 'd' has 5 dimensions; GGUF allows 1 to 4");
  checkError(openError(wellFormed().tensor({"o", 0, {int64_t{1} << 32, int64_t{1} << 32}, ""}).bytes()),
             "tensor 'o' has dimensions whose product overflows 64 bits");
  checkError(openError(wellFormed().tensor({"off", 0, {8}, std::string(32, '\0'), 288}).bytes()),
             "tensor 'off' has data offset 288, expected 512");
  checkError(openError(wellFormed().tensor({std::string(64, 'n'), 0, {8}, std::string(32, '\0')}).bytes()),
             "has a name of 64 bytes; ggml allows at most 63");
  const std::string good = readFile(allTypes());
  checkError(openError(good.substr(0, good.size() - 40)),
             "bad.gguf: tensor 'q6_k' data (bytes");
  checkError(openError(good.substr(0, good.size() - 40)), "runs past the end of the file");
}

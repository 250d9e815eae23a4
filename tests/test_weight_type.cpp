// The one weight type table (runtime/weight_type.h) that the pack, the runtime, the quantizers
// and the CLI read: its rows are consistent, and every reader agrees with it.
#include <doctest/doctest.h>

#include <set>

#include "lib/format/pack_format.h"
#include "lib/model/bit_packing.h"
#include "lib/model/quant_scheme.h"
#include "lib/support/error.h"
#include "passes/quantize/rtn_pass.h"
#include "runtime/kernels.h"

using namespace slmc;

TEST_CASE("weight types: one row per type with unique names, and bit widths lead to one integer grid each") {
  std::set<std::string> names, storage_names;
  for (const WeightTypeTraits& t : kWeightTypes) {
    CAPTURE(t.name);
    CHECK(&weightTypeTraits(t.type) == &t);
    CHECK(names.insert(t.name).second);
    CHECK(storage_names.insert(t.storage_name).second);
    CHECK(findStorage(t.storage_name) == &t);
    if (t.quantized) {
      CHECK(integerType(t.bits) == t.type);
      CHECK_NOTHROW(validateBits(t.bits));
    } else {
      CHECK(pack::floatStorage(pack::storageDType(t.type)) == t.type);
    }
  }
  CHECK(integerBitWidths() == std::vector<int64_t>{2, 3, 4, 5, 6, 8});
  CHECK(integerBitsText() == "2, 3, 4, 5, 6 or 8");
  CHECK_FALSE(integerType(7).has_value());
  CHECK_THROWS_WITH_AS(validateBits(7), "unsupported bit width 7 (use 2, 3, 4, 5, 6 or 8)", Error);
  CHECK(findStorage("int7") == nullptr);
  CHECK(storageNames() == "float32, float16, int8, int4, int3, int2, bfloat16, int5, int6");
  // Appended rows: the pack stores a type's index, so the older ones keep theirs.
  CHECK(static_cast<int>(WeightType::BF16) == 6);
  CHECK(static_cast<int>(WeightType::Q5) == 7);
  CHECK(static_cast<int>(WeightType::Q6) == 8);
  CHECK(integerType(5) == WeightType::Q5);
  CHECK(integerType(6) == WeightType::Q6);
}

TEST_CASE("weight types: the pack, the scheme and the runtime count a weight's bytes alike") {
  for (const int64_t bits : integerBitWidths())
    for (const int64_t group : {0, 16, 32})
      for (const bool symmetric : {true, false}) {
        const QuantScheme s{static_cast<int>(bits), group, symmetric};
        CAPTURE(schemeName(s));
        const int64_t rows = 5, cols = 96;
        const uint8_t codes = 0;
        const uint16_t scale = 0;
        const runtime::QuantMatrix m = runtime::QuantMatrix::quantized(*integerType(static_cast<int>(bits)), rows, cols,
                                                                       group, symmetric, &codes, &scale, &codes);
        CHECK(m.weightBytes() == quantizedBytes(s, rows, cols));
        CHECK(pack::quantizedBlockBytes(s, rows, cols).total() == quantizedBytes(s, rows, cols));
        CHECK(packedRowBytes(cols, static_cast<int>(bits)) == codeRowBytes(cols, static_cast<int>(bits)));
      }
  CHECK(runtime::QuantMatrix::bfloat16(3, 8, nullptr).weightBytes() == 48);
}

TEST_CASE("weight types: the weight-quantization passes offer exactly the table's integer widths") {
  const RtnPass pass;
  const OptionBase* bits = pass.findOption("bits");
  REQUIRE(bits != nullptr);
  CHECK(bits->choiceTexts() == std::vector<std::string>{"2", "3", "4", "5", "6", "8"});
}

TEST_CASE("weight types: a quantization scheme names its type, not a bit width") {
  const QuantScheme by_width(4, 32, true), by_type(WeightType::Q4, 32, true);
  CHECK(by_width == by_type);
  CHECK(by_type.bits() == 4);
  CHECK(schemeName(by_type) == "int4-g32-sym");  // the type's storage name
  for (const WeightTypeTraits& t : kWeightTypes) {
    if (!t.quantized) {
      CHECK_THROWS_AS(QuantScheme(t.type, 32, true), Error);  // a float type is no grid
      continue;
    }
    const QuantScheme s(t.type, 0, false);
    CAPTURE(schemeName(s));
    CHECK(parseSchemeName(schemeName(s)) == s);
    CHECK(parseSchemeName(std::string(t.storage_name) + "-g64").type == t.type);
  }
  CHECK(schemeName(QuantScheme(5, 32, true)) == "int5-g32-sym");
  CHECK(parseSchemeName("int6-g32") == QuantScheme(WeightType::Q6, 32, true));
  CHECK(quantizedBytes(QuantScheme(5, 32, true), 576, 576) * 8 == 576 * 576 * 11 / 2);  // Q5_0's 5.5 bits/weight
  CHECK(quantizedBytes(QuantScheme(6, 32, true), 576, 576) * 8 == 576 * 576 * 13 / 2);  // 6.5 bits/weight
  CHECK_THROWS_WITH_AS(QuantScheme(7, 32, true), "unsupported bit width 7 (use 2, 3, 4, 5, 6 or 8)", Error);
  CHECK_THROWS_WITH_AS(parseSchemeName("int4"),
                       "quantization scheme 'int4' is not of the form intB-gG[-sym|-asym] or intB-channel[-sym|-asym] "
                       "(e.g. int8-channel, int4-g32)",
                       Error);
  CHECK_THROWS_WITH_AS(parseSchemeName("int44-g32"), "unsupported bit width 44 (use 2, 3, 4, 5, 6 or 8)", Error);
}

#include <doctest/doctest.h>

#include <cmath>
#include <ios>

#include "lib/model/dtype.h"
#include "lib/model/tensor.h"
#include "lib/support/error.h"

using namespace slmc;

TEST_CASE("half: known values decode exactly") {
  CHECK(halfToFloat(0x3c00) == 1.0f);
  CHECK(halfToFloat(0xc000) == -2.0f);
  CHECK(halfToFloat(0x7bff) == 65504.0f);
  CHECK(halfToFloat(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(halfToFloat(0x0400) == std::ldexp(1.0f, -14));  // smallest normal
  CHECK(std::isinf(halfToFloat(0x7c00)));
  CHECK(std::isnan(halfToFloat(0x7e00)));
  CHECK(std::signbit(halfToFloat(0x8000)));
}

TEST_CASE("half: every non-NaN half value survives float and back") {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = halfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    REQUIRE_MESSAGE(floatToHalf(f) == h, "half 0x" << std::hex << h);
  }
}

TEST_CASE("half: float rounds to nearest even and saturates to inf") {
  // 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): ties go to even (1.0).
  CHECK(floatToHalf(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);
  CHECK(floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);
  CHECK(floatToHalf(70000.0f) == 0x7c00);
  CHECK(floatToHalf(-70000.0f) == 0xfc00);
  CHECK(floatToHalf(std::ldexp(1.0f, -26)) == 0x0000);  // below half the smallest subnormal
  CHECK(floatToHalf(std::ldexp(3.0f, -25)) == 0x0002);  // 1.5 subnormal ulps rounds to even 2
}

TEST_CASE("bfloat16: round trip and round to nearest even") {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = bf16ToFloat(static_cast<uint16_t>(b));
    if (std::isnan(f)) continue;
    REQUIRE(floatToBf16(f) == b);
  }
  CHECK(floatToBf16(1.00390625f) == 0x3f80);  // exactly halfway: even
  CHECK(floatToBf16(1.01171875f) == 0x3f82);  // halfway above an odd mantissa: up
  CHECK(std::isnan(bf16ToFloat(floatToBf16(std::nanf("")))));
}

TEST_CASE("dtype names parse, unknown ones are rejected with the supported list") {
  CHECK(parseDType("BF16") == DType::BF16);
  CHECK(dtypeSize(DType::F16) == 2);
  CHECK_THROWS_WITH_AS(parseDType("F8_E4M3"), doctest::Contains("unsupported tensor dtype 'F8_E4M3'"), Error);
}

TEST_CASE("tensor conversion between float dtypes") {
  const Tensor t = Tensor::fromFloats({2, 2}, {1.0f, -0.5f, 3.140625f, 65504.0f});
  const Tensor h = t.to(DType::F16);
  CHECK(h.nbytes() == 8);
  CHECK(h.toFloats() == std::vector<float>{1.0f, -0.5f, 3.140625f, 65504.0f});
  CHECK(t.to(DType::BF16).toFloats()[3] == 65536.0f);  // bf16 has 8 mantissa bits
  CHECK(t.allFinite());
  CHECK_FALSE(Tensor::fromFloats({1}, {std::nanf("")}).allFinite());
}

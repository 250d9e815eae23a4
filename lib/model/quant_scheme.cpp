#include "lib/model/quant_scheme.h"

#include <cctype>

#include "lib/support/error.h"
#include "runtime/weight_type.h"

namespace slmc {

void validateBits(int bits) {
  require(integerType(bits).has_value(), "unsupported bit width " + std::to_string(bits) + " (use " + integerBitsText() + ")");
}

QuantScheme::QuantScheme(WeightType t, int64_t group, bool sym) : type(t), group_size(group), symmetric(sym) {
  require(isWeightType(t) && weightTypeTraits(t).quantized,
          "weight type is not an integer grid (use one of " + integerBitsText() + " bits)");
}

QuantScheme::QuantScheme(int bits, int64_t group, bool sym) : group_size(group), symmetric(sym) {
  validateBits(bits);
  type = *integerType(bits);
}

std::string schemeName(const QuantScheme& s) {
  return std::string(weightTypeTraits(s.type).storage_name) + "-" +
         (s.group_size > 0 ? "g" + std::to_string(s.group_size) : "channel") + (s.symmetric ? "-sym" : "-asym");
}

std::vector<std::string> schemeNames(const std::vector<QuantScheme>& schemes) {
  std::vector<std::string> names;
  for (const QuantScheme& s : schemes) names.push_back(schemeName(s));
  return names;
}

QuantScheme parseSchemeName(const std::string& text) {
  const std::string expected = "quantization scheme '" + text +
                               "' is not of the form intB-gG[-sym|-asym] or intB-channel[-sym|-asym] (e.g. int8-channel, "
                               "int4-g32)";
  QuantScheme s;
  std::string rest = text;
  // A number of at most 7 digits (so std::stoll cannot overflow), consumed from `rest`.
  const auto number = [&]() -> int64_t {
    size_t digits = 0;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
    require(digits > 0 && digits <= 7, expected);
    const int64_t v = std::stoll(rest.substr(0, digits));
    rest.erase(0, digits);
    return v;
  };
  const auto eat = [&](const std::string& prefix) {
    if (rest.rfind(prefix, 0) != 0) return false;
    rest.erase(0, prefix.size());
    return true;
  };
  // The type's pack storage name ("int4"); an "intB" no type has is named by its width.
  bool named = false;
  for (const WeightTypeTraits& t : kWeightTypes) {
    const std::string name = t.storage_name;
    if (t.quantized && rest.rfind(name + "-", 0) == 0) {
      rest.erase(0, name.size());
      s.type = t.type;
      named = true;
      break;
    }
  }
  if (!named) {
    require(eat("int"), expected);
    validateBits(static_cast<int>(number()));
    require(false, expected);  // validateBits accepted a width, so its type's name would have matched
  }
  if (eat("-channel")) {
    s.group_size = 0;
  } else {
    require(eat("-g"), expected);
    s.group_size = number();
    require(s.group_size > 0, expected);
  }
  if (eat("-asym"))
    s.symmetric = false;
  else
    eat("-sym");
  require(rest.empty(), expected);
  return s;
}

int64_t effectiveGroupSize(const QuantScheme& s, int64_t cols) { return s.group_size > 0 ? s.group_size : cols; }

int64_t groupsPerRow(const QuantScheme& s, int64_t cols) {
  const int64_t g = effectiveGroupSize(s, cols);
  require(g > 0 && cols % g == 0, "group size " + std::to_string(g) + " does not divide a row of " +
                                      std::to_string(cols) + " columns");
  return cols / g;
}

int64_t quantizedBytes(const QuantScheme& s, int64_t rows, int64_t cols) {
  return integerBlockBytes(s.bits(), rows, cols, groupsPerRow(s, cols), s.symmetric).total();
}

}  // namespace slmc

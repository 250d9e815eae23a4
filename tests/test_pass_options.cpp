#include <doctest/doctest.h>

#include "lib/pipeline/pass_options.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {

// An option set of every type, declared the way a pass declares its options.
struct QuantizeOptions : PassOptions {
  Option<std::string> method{*this, "method", "quantization algorithm", "gptq"};
  Option<int64_t> bits{*this, "bits", "weight bit width", 4};
  Option<int64_t> group_size{*this, "group_size", "columns per group (0: per channel)", 128};
  Option<double> damp{*this, "damp", "Hessian dampening, fraction of the mean diagonal", 0.01};
  Option<bool> symmetric{*this, "symmetric", "symmetric grid (zero point in the middle)", true};
  Option<OptionList> keep{*this, "keep", "tensors left in float", {"lm_head"}};

  QuantizeOptions() : PassOptions("quantize") {
    method.choices({"rtn", "gptq"});
    bits.choices({2, 3, 4, 8});
    group_size.check([](const int64_t& g) {
      return g % 32 == 0 ? std::string() : "'" + std::to_string(g) + "' is not a multiple of 32";
    });
    damp.range(0.0, 1.0);
    keep.choices({"lm_head", "embed", "norm"});
  }
};

std::string parseError(const OptionAssignments& assignments) {
  QuantizeOptions o;
  return errorOf([&] { o.parseOptions(assignments); });
}

}  // namespace

TEST_CASE("pass options: defaults until set, typed values after parsing") {
  QuantizeOptions o;
  CHECK(*o.method == "gptq");
  CHECK(o.bits == 4);
  CHECK(o.damp.value() == doctest::Approx(0.01));
  CHECK(o.symmetric.value());
  CHECK(*o.keep == OptionList{"lm_head"});
  CHECK(o.method == "gptq");  // options compare like their values
  CHECK(o.bits != 8);
  for (const OptionBase* option : o.options()) CHECK_FALSE(option->isSet());

  o.parseOptions({{"bits", "3"}, {"method", "rtn"}, {"symmetric", "false"}, {"damp", "0.1"}, {"keep", "{embed,norm}"}});
  CHECK(*o.method == "rtn");
  CHECK(o.bits.value() == 3);
  CHECK_FALSE(o.symmetric.value());
  CHECK(o.damp.value() == 0.1);
  CHECK(*o.keep == OptionList{"embed", "norm"});
  CHECK(o.isSet("bits"));
  CHECK(o.isSet("keep"));
  CHECK_FALSE(o.isSet("group_size"));
  CHECK(o.group_size.value() == 128);
  CHECK(o.optionNames() == std::vector<std::string>{"method", "bits", "group_size", "damp", "symmetric", "keep"});
  checkError(errorOf([&] { o.isSet("bitz"); }), "internal: pass 'quantize' has no option 'bitz'");
}

TEST_CASE("pass options: list values from list text, a bare scalar or nothing") {
  QuantizeOptions o;
  o.parseOptions({{"keep", "{ embed , \"norm\" }"}});
  CHECK(*o.keep == OptionList{"embed", "norm"});
  QuantizeOptions one;
  one.parseOptions({{"keep", "embed"}});
  CHECK(*one.keep == OptionList{"embed"});
  QuantizeOptions none;
  none.parseOptions({{"keep", "{}"}});
  CHECK(none.keep->empty());
  CHECK(none.isSet("keep"));
  checkError(parseError({{"keep", "{embed,attn}"}}),
             "option 'keep' of pass 'quantize': 'attn' is not one of lm_head, embed, norm");
  checkError(parseError({{"keep", "{embed"}}),
             "option 'keep' of pass 'quantize': list value: expected '}' at column 7");
}

TEST_CASE("pass options: JSON holds every value, explicit and default, typed") {
  QuantizeOptions o;
  o.parseOptions({{"bits", "8"}, {"keep", "{}"}});
  const nlohmann::json j = o.optionsJson();
  CHECK(j == nlohmann::json{{"method", "gptq"},
                            {"bits", 8},
                            {"group_size", 128},
                            {"damp", 0.01},
                            {"symmetric", true},
                            {"keep", nlohmann::json::array()}});
  CHECK(j["bits"].is_number_integer());
  CHECK(j["damp"].is_number_float());
  // Only what was written, in declaration order, as text.
  CHECK(o.explicitOptions() == OptionAssignments{{"bits", "8"}, {"keep", "{}"}});
}

TEST_CASE("pass options: listing shows type, default, constraints and help") {
  QuantizeOptions o;
  const std::string text = o.describeOptions("  ");
  CHECK(countLines(text) == 6);
  CHECK(text.find("  method=<string>") == 0);
  CHECK(text.find("quantization algorithm [default: gptq; one of: rtn, gptq]") != std::string::npos);
  CHECK(text.find("bits=<int>") != std::string::npos);
  CHECK(text.find("weight bit width [default: 4; one of: 2, 3, 4, 8]") != std::string::npos);
  CHECK(text.find("damp=<float>") != std::string::npos);
  CHECK(text.find("[default: 0.01; range: [0, 1]]") != std::string::npos);
  CHECK(text.find("symmetric=<bool>") != std::string::npos);
  CHECK(text.find("[default: true]") != std::string::npos);
  CHECK(text.find("keep=<list>") != std::string::npos);
  CHECK(text.find("[default: {lm_head}; one of: lm_head, embed, norm]") != std::string::npos);
  // Help text starts in one column for every option.
  const size_t column = text.find("quantization algorithm");
  CHECK(text.find("weight bit width") - text.find("  bits=") == column);
}

TEST_CASE("pass options: every rejected value names the option, the pass and the problem") {
  checkError(parseError({{"bitz", "4"}}),
             "unknown option 'bitz' for pass 'quantize' (options: method, bits, group_size, damp, symmetric, keep");
  CHECK(parseError({{"bitz", "4"}}).find("did you mean 'bits'?") != std::string::npos);
  CHECK(parseError({{"zzzzzz", "4"}}).find("did you mean") == std::string::npos);
  checkError(parseError({{"bits", "5"}}), "option 'bits' of pass 'quantize': '5' is not one of 2, 3, 4, 8");
  checkError(parseError({{"bits", "four"}}), "option 'bits' of pass 'quantize': 'four' is not an integer");
  checkError(parseError({{"bits", "4.0"}}), "'4.0' is not an integer");
  checkError(parseError({{"bits", ""}}), "'' is not an integer");
  checkError(parseError({{"bits", "99999999999999999999"}}), "is too large for an integer");
  checkError(parseError({{"method", "awq"}}), "option 'method' of pass 'quantize': 'awq' is not one of rtn, gptq");
  checkError(parseError({{"damp", "1.5"}}), "option 'damp' of pass 'quantize': '1.5' is outside the range [0, 1]");
  checkError(parseError({{"damp", "x"}}), "'x' is not a number");
  checkError(parseError({{"damp", "nan"}}), "'nan' is not a finite number");
  checkError(parseError({{"symmetric", "yes"}}),
             "option 'symmetric' of pass 'quantize': 'yes' is not a boolean (use true or false)");
  checkError(parseError({{"group_size", "100"}}),
             "option 'group_size' of pass 'quantize': '100' is not a multiple of 32");
  checkError(parseError({{"bits", "4"}, {"method", "rtn"}, {"bits", "8"}}),
             "option 'bits' of pass 'quantize' is given twice: keep one value");
}

TEST_CASE("pass options: setValue applies the same constraints and counts as explicit") {
  QuantizeOptions o;
  o.bits.setValue(2);
  CHECK(o.bits == 2);
  CHECK(o.isSet("bits"));
  checkError(errorOf([&] { o.bits.setValue(7); }), "option 'bits' of pass 'quantize': '7' is not one of 2, 3, 4, 8");
  CHECK(o.bits == 2);  // a rejected value leaves the old one
}

TEST_CASE("pass options: a pass's own declaration mistakes are internal errors") {
  struct BadDefault : PassOptions {
    Option<int64_t> bits{*this, "bits", "weight bit width", 5};
    BadDefault() : PassOptions("broken") { bits.choices({2, 4}); }
  };
  checkError(errorOf([] { BadDefault b; }),
             "internal: option 'bits' of pass 'broken': its default breaks its own constraint: '5' is not one of 2, 4");
  struct Twice : PassOptions {
    Option<int64_t> a{*this, "bits", "", 1};
    Option<int64_t> b{*this, "bits", "", 2};
    Twice() : PassOptions("twice") {}
  };
  checkError(errorOf([] { Twice t; }), "internal: option 'bits' of pass 'twice': declared twice");
  struct BadName : PassOptions {
    Option<int64_t> a{*this, "Group-Size", "", 1};
    BadName() : PassOptions("bad") {}
  };
  checkError(errorOf([] { BadName b; }), "lower_case_with_underscores");
}

TEST_CASE("pass options: float values print back exactly") {
  struct Floats : PassOptions {
    Option<double> x{*this, "x", "a float", 0.1};
    Floats() : PassOptions("floats") {}
  };
  Floats f;
  CHECK(f.x.defaultText() == "0.1");
  f.parseOptions({{"x", "1e-3"}});
  CHECK(f.x.valueText() == "0.001");
  f.x.setValue(1.0 / 3.0);
  Floats g;
  g.parseOptions({{"x", f.x.valueText()}});
  CHECK(g.x.value() == 1.0 / 3.0);
}

TEST_CASE("pass options: closest match suggests only plausible typos") {
  CHECK(closestMatch("quantise", {"prune", "quantize", "export"}) == "quantize");
  CHECK(closestMatch("grup_size", {"bits", "group_size"}) == "group_size");
  CHECK(closestMatch("xyz", {"bits", "group_size"}).empty());
}

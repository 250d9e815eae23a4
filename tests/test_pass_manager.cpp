#include <doctest/doctest.h>

#include <stdexcept>

#include "lib/model/quantized_tensor.h"
#include "lib/model/random_model.h"
#include "lib/pipeline/pass.h"
#include "lib/pipeline/pass_manager.h"
#include "lib/pipeline/pass_registry.h"
#include "lib/pipeline/pipeline.h"
#include "lib/support/error.h"
#include "tests/test_support.h"
#include "tests/tiny_configs.h"

using namespace slmc;
using namespace slmc::test;

namespace {

const std::string kQProj = names::layer(0, "self_attn.q_proj.weight");

// Fake passes with the traits of the real families: small, but they really change the model.

// RTN-quantizes q_proj; method=gptq needs calibration (and reads it), rtn does not.
class FakeQuantize : public Pass {
 public:
  Option<std::string> method{*this, "method", "quantization algorithm", "gptq"};
  Option<int64_t> bits{*this, "bits", "weight bit width", 4};
  Option<int64_t> group_size{*this, "group_size", "columns per group (0: per channel)", 16};
  Option<OptionList> keep{*this, "keep", "tensors left in float", {}};

  FakeQuantize() : Pass("quantize", "fake weight quantization") {
    method.choices({"rtn", "gptq"});
    bits.choices({2, 3, 4, 8});
    group_size.range(0, 4096);
  }
  PassTraits traits() const override {
    PassTraits t;
    t.quantizes = true;
    t.needs_calibration = *method == "gptq";
    return t;
  }
  std::string withoutCalibration() const override { return "use method=rtn"; }
  void validateOptions() const override {
    require(!(bits == 8 && group_size != 0), "bits=8 is per channel here: set group_size=0");
  }
  PassResult run(Model& model, PassContext& context) override {
    int64_t calibration_tokens = 0;
    if (*method == "gptq") calibration_tokens = static_cast<int64_t>(context.calibration().ids.size());
    const Tensor& t = model.tensors.at(kQProj);
    const std::vector<float> w = t.toFloats();
    model.setQuantized(kQProj, quantizeRtn(w.data(), t.dim(0), t.dim(1), {static_cast<int>(*bits), *group_size, true}));
    for (int64_t i = 1; i <= 4; ++i) context.progress("quantize", i, 4);
    context.log("quantized " + kQProj);
    PassResult r;
    r.summary = "quantized 1 linear";
    r.figures = {{"tensors", 1}, {"calibration_tokens", calibration_tokens}};
    return r;
  }
};

// Zeroes nothing, but like every pruner refuses quantized weights.
class FakePrune : public Pass {
 public:
  Option<double> sparsity{*this, "sparsity", "fraction of weights set to zero", 0.5};
  FakePrune() : Pass("prune", "fake pruning") { sparsity.range(0.0, 0.99); }
  PassTraits traits() const override {
    PassTraits t;
    t.needs_float_weights = true;
    return t;
  }
  PassResult run(Model&, PassContext&) override {
    PassResult r;
    r.summary = "pruned nothing";
    r.warnings.push_back("fake pruner");
    return r;
  }
};

class FakeExport : public Pass {
 public:
  Option<std::string> format{*this, "format", "artifact format", "pack"};
  FakeExport() : Pass("export", "fake export") { format.choices({"pack", "hf"}); }
  PassTraits traits() const override {
    PassTraits t;
    t.terminal = true;
    return t;
  }
  PassResult run(Model&, PassContext&) override { return {"exported", nlohmann::json::object(), {}}; }
};

// Fails the way a pass reports a bad model (Error) or a library bug (any exception).
class FakeExplode : public Pass {
 public:
  Option<bool> library{*this, "library", "throw a non-slmc exception", false};
  FakeExplode() : Pass("explode", "always fails") {}
  PassResult run(Model&, PassContext&) override {
    if (library) throw std::runtime_error("vector::at out of range");
    throw Error("tensor 'x' contains NaN");
  }
};

PassRegistry fakeRegistry() {
  PassRegistry r;
  r.add<FakeQuantize>();
  r.add<FakePrune>();
  r.add<FakeExport>();
  r.add<FakeExplode>();
  return r;
}

// Builds `text` and validates it on a float model without calibration; the error or "no error".
std::string validateError(const std::string& text, const Model& model) {
  const PassRegistry registry = fakeRegistry();
  PassManager pm(registry);
  PassContext context;
  return errorOf([&] {
    pm.build(parsePipeline(text));
    pm.validate(model, context);
  });
}

CalibrationSamples fourSamples() {
  CalibrationSamples s;
  s.num_samples = 4;
  s.seq_len = 8;
  s.ids.assign(32, 1);
  return s;
}

}  // namespace

TEST_CASE("pass registry: names in registration order, create, listing") {
  const PassRegistry r = fakeRegistry();
  CHECK(r.names() == std::vector<std::string>{"quantize", "prune", "export", "explode"});
  CHECK(r.contains("prune"));
  CHECK_FALSE(r.contains("distill"));
  const std::unique_ptr<Pass> p = r.create("quantize");
  CHECK(p->argument() == "quantize");
  CHECK(p->description() == "fake weight quantization");
  const std::string listing = r.describe();
  CHECK(listing.find("quantize: fake weight quantization\n") == 0);
  CHECK(listing.find("    bits=<int>") != std::string::npos);
  CHECK(listing.find("weight bit width [default: 4; one of: 2, 3, 4, 8]") != std::string::npos);
  CHECK(listing.find("prune: fake pruning\n    sparsity=<float>  fraction of weights set to zero [default: 0.5; range: "
                     "[0, 0.99]]\n") != std::string::npos);
  CHECK(listing.find("export: fake export\n") != std::string::npos);
  checkError(errorOf([&] { r.create("quantise"); }),
             "unknown pass 'quantise' (passes: quantize, prune, export, explode; see `slmc passes`; did you mean "
             "'quantize'?)");
  checkError(errorOf([&] { r.create("distill"); }),
             "unknown pass 'distill' (passes: quantize, prune, export, explode; see `slmc passes`)");
}

TEST_CASE("pass registry: a name is registered once, under the name its pass declares") {
  PassRegistry r = fakeRegistry();
  checkError(errorOf([&] { r.add<FakePrune>(); }), "internal: pass 'prune' is registered twice");
  checkError(errorOf([&] { r.add("pruning", "x", [] { return std::unique_ptr<Pass>(new FakePrune()); }); }),
             "internal: pass registered as 'pruning' calls itself 'prune'");
  CHECK(r.names().size() == 4);
}

TEST_CASE("pass manager: build parses every pass's options and names the pass on errors") {
  const PassRegistry registry = fakeRegistry();
  PassManager pm(registry);
  pm.build(parsePipeline("prune(sparsity=0.25),quantize(method=rtn,bits=3,keep={lm_head}),export(format=hf)"));
  REQUIRE(pm.size() == 3);
  const auto& q = dynamic_cast<const FakeQuantize&>(pm.pass(1));
  CHECK(q.bits == 3);
  CHECK(*q.keep == OptionList{"lm_head"});
  CHECK(q.group_size == 16);
  CHECK(q.isSet("bits"));
  CHECK_FALSE(q.isSet("group_size"));
  CHECK(pm.pipelineText() == "prune(sparsity=0.25),quantize(method=rtn,bits=3,keep={lm_head}),export(format=hf)");

  const auto buildError = [&](const std::string& text) { return errorOf([&] { pm.build(parsePipeline(text)); }); };
  checkError(buildError("prune,quantise(bits=4)"), "pass 2: unknown pass 'quantise' (passes: quantize, prune");
  checkError(buildError("prune,quantize(bitz=4)"),
             "pass 2: unknown option 'bitz' for pass 'quantize' (options: method, bits, group_size, keep");
  checkError(buildError("quantize(bits=5)"), "pass 1: option 'bits' of pass 'quantize': '5' is not one of 2, 3, 4, 8");
  checkError(buildError("prune(sparsity=1)"),
             "pass 1: option 'sparsity' of pass 'prune': '1' is outside the range [0, 0.99]");
  checkError(buildError("quantize(bits=4,bits=8)"), "pass 1: option 'bits' of pass 'quantize' is given twice");
  checkError(buildError("export(x=1)"), "pass 1: unknown option 'x' for pass 'export' (options: format)");
  checkError(buildError("explode(library=maybe)"), "'maybe' is not a boolean (use true or false)");
  checkError(errorOf([&] { pm.build({}); }), "the pipeline is empty");
  // A failed build keeps the previous pipeline.
  CHECK(pm.size() == 3);
}

TEST_CASE("pass manager: validate checks the whole pipeline before any work") {
  const Model model = randomModel(tinyLlamaConfig(), 1);
  CHECK(validateError("prune,quantize(method=rtn),export", model) == "no error");
  CHECK(validateError("quantize(method=rtn),quantize(method=rtn,bits=8,group_size=0)", model) == "no error");
  checkError(validateError("quantize(method=rtn),prune", model),
             "pass 2 'prune' needs float weights but pass 1 'quantize' quantizes them: put prune before quantize");
  checkError(validateError("quantize(method=rtn),export,prune", model),
             "pass 2 'export' must be the last pass but 'prune' follows it: move export to the end");
  checkError(validateError("quantize(method=gptq)", model),
             "pass 1 'quantize(method=gptq)' needs calibration data: pass --data FILE (or use method=rtn)");
  // Defaults count: gptq is the default method.
  checkError(validateError("prune,quantize(bits=4)", model),
             "pass 2 'quantize(bits=4)' needs calibration data: pass --data FILE (or use method=rtn)");
  checkError(validateError("prune,quantize(method=rtn,bits=8)", model),
             "pass 2 'quantize': bits=8 is per channel here: set group_size=0");

  Model quantized = randomModel(tinyLlamaConfig(), 1);
  const Tensor& t = quantized.tensors.at(kQProj);
  const std::vector<float> w = t.toFloats();
  quantized.setQuantized(kQProj, quantizeRtn(w.data(), t.dim(0), t.dim(1), {4, 16, true}));
  checkError(validateError("prune", quantized),
             "pass 1 'prune' needs float weights but the input model already has 1 quantized tensors: start from the "
             "float checkpoint");
  CHECK(validateError("quantize(method=rtn,bits=8,group_size=0),export", quantized) == "no error");

  // With a calibration source installed, gptq validates (and nothing is loaded yet).
  const PassRegistry registry = fakeRegistry();
  PassManager pm(registry);
  PassContext context;
  int loads = 0;
  context.setCalibration(
      [&] {
        ++loads;
        return fourSamples();
      },
      "four samples");
  pm.build(parsePipeline("quantize"));
  pm.validate(model, context);
  CHECK(loads == 0);
}

TEST_CASE("pass manager: run executes in order and records time, memory, options and results") {
  const PassRegistry registry = fakeRegistry();
  PassManager pm(registry);
  PassContext context;
  context.quiet = true;
  int loads = 0;
  context.setCalibration(
      [&] {
        ++loads;
        return fourSamples();
      },
      "four samples");
  Model model = randomModel(tinyLlamaConfig(), 2);
  pm.build(parsePipeline("prune(sparsity=0.25),quantize(bits=4),export"));
  const std::vector<PassRecord> records = pm.run(model, context);
  REQUIRE(records.size() == 3);
  CHECK(loads == 1);  // loaded once, on first use
  CHECK(model.quantized.count(kQProj) == 1);
  CHECK(model.quantized.at(kQProj)->scheme == QuantScheme{4, 16, true});

  CHECK(records[0].name == "prune");
  CHECK(records[0].invocation == "prune(sparsity=0.25)");
  CHECK(records[0].options == nlohmann::json{{"sparsity", 0.25}});
  CHECK(records[0].result.summary == "pruned nothing");
  CHECK(records[0].result.warnings == std::vector<std::string>{"fake pruner"});
  CHECK(records[1].invocation == "quantize(bits=4)");
  CHECK(records[1].options ==
        nlohmann::json{{"method", "gptq"}, {"bits", 4}, {"group_size", 16}, {"keep", nlohmann::json::array()}});
  CHECK(records[1].result.figures["calibration_tokens"] == 32);
  CHECK(records[2].invocation == "export");
  CHECK(records[2].options == nlohmann::json{{"format", "pack"}});
  for (const PassRecord& r : records) {
    CAPTURE(r.name);
    CHECK(r.seconds >= 0);
    CHECK(r.peak_rss_bytes > 0);  // Linux: the test process holds at least its model
  }
  CHECK(records[2].peak_rss_bytes >= records[0].peak_rss_bytes);  // the high-water mark never falls

  // run() validates first: nothing runs when a later pass cannot.
  Model fresh = randomModel(tinyLlamaConfig(), 2);
  PassContext no_data;
  pm.build(parsePipeline("quantize(method=rtn),quantize"));
  checkError(errorOf([&] { pm.run(fresh, no_data); }), "pass 2 'quantize' needs calibration data");
  CHECK(fresh.quantized.empty());
}

TEST_CASE("pass manager: a failing pass is named with its position") {
  const PassRegistry registry = fakeRegistry();
  PassManager pm(registry);
  PassContext context;
  Model model = randomModel(tinyLlamaConfig(), 3);
  pm.build(parsePipeline("prune,explode"));
  checkError(errorOf([&] { pm.run(model, context); }), "pass 2 'explode' failed: tensor 'x' contains NaN");
  pm.build(parsePipeline("explode(library=true)"));
  checkError(errorOf([&] { pm.run(model, context); }), "pass 1 'explode' failed: vector::at out of range");
}

TEST_CASE("pass context: calibration is loaded once, checked, and required when asked for") {
  PassContext context;
  CHECK_FALSE(context.hasCalibration());
  checkError(errorOf([&] { context.calibration(); }), "pass needs calibration data: pass --data FILE");
  int loads = 0;
  context.setCalibration(
      [&] {
        ++loads;
        return fourSamples();
      },
      "four samples");
  CHECK(context.hasCalibration());
  CHECK(context.calibrationDescription() == "four samples");
  CHECK(context.calibration().num_samples == 4);
  CHECK(context.calibration().seq_len == 8);
  CHECK(loads == 1);
  context.setCalibration(
      [] {
        CalibrationSamples s = fourSamples();
        s.ids.pop_back();
        return s;
      },
      "short.h5");
  checkError(errorOf([&] { context.calibration(); }),
             "calibration data short.h5 holds 31 ids for 4 samples of 8 tokens");

  context.quiet = true;
  context.warn("something odd");
  CHECK(context.warnings == std::vector<std::string>{"something odd"});
  context.progress("step", 1, 2);  // silent: quiet, and stderr is not a terminal under the test runner
  context.progress("step", 2, 2);
  context.log("not shown");
}

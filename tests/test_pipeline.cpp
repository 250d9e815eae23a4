#include <doctest/doctest.h>

#include "lib/pipeline/pipeline.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;
using namespace slmc::test;

namespace {

using Options = std::vector<std::pair<std::string, std::string>>;

std::string pipelineError(const std::string& text) {
  return errorOf([&] { parsePipeline(text); });
}

std::string recipeError(const std::string& yaml) {
  return errorOf([&] { parseRecipeText(yaml, "r.yaml"); });
}

}  // namespace

TEST_CASE("pipeline text: passes, options, quoted strings and lists") {
  const auto p = parsePipeline(
      " prune( method = wanda , sparsity=0.5 ) ,quantize(method=gptq,bits=4,group_size=128,keep={lm_head, embed}),"
      "export(format=hf,name=\"my model, v2 \\\"final\\\" \\\\ done\"),  calibrate ");
  REQUIRE(p.size() == 4);
  CHECK(p[0] == PassInvocation{"prune", {{"method", "wanda"}, {"sparsity", "0.5"}}});
  CHECK(p[1] ==
        PassInvocation{"quantize",
                       {{"method", "gptq"}, {"bits", "4"}, {"group_size", "128"}, {"keep", "{lm_head,embed}"}}});
  CHECK(p[2] == PassInvocation{"export", {{"format", "hf"}, {"name", "my model, v2 \"final\" \\ done"}}});
  CHECK(p[3] == PassInvocation{"calibrate", {}});
  CHECK(parsePipeline("export()") == std::vector<PassInvocation>{{"export", {}}});
  // Values may hold any character but the delimiters: regexes, paths, negative numbers.
  CHECK(parsePipeline("q(match=re:.*v_proj,path=/tmp/a.b,x=-1.5e-3)")[0].options ==
        Options{{"match", "re:.*v_proj"}, {"path", "/tmp/a.b"}, {"x", "-1.5e-3"}});
  // The same pass twice keeps both, in order.
  CHECK(parsePipeline("quantize(bits=8),quantize(bits=4)").size() == 2);
  // Quoted list elements and the empty list.
  CHECK(parsePipeline("q(keep={\"a,b\", c},none={})")[0].options == Options{{"keep", "{\"a,b\",c}"}, {"none", "{}"}});
}

TEST_CASE("pipeline text: printing parses back to the same pipeline") {
  for (const std::string text :
       {"quantize(method=gptq,bits=4,group_size=128),export(format=hf)", "prune", "a(x={a,b}),b(y={})",
        "export(name=\"two words\",path=\"a(b)\",eq=\"k=v\",q=\"say \\\"hi\\\"\",e=\"\",brace=\"{x\")",
        "q(keep={\"a,b\",\"\",c})"}) {
    CAPTURE(text);
    const auto p = parsePipeline(text);
    CHECK(pipelineText(p) == text);
    CHECK(parsePipeline(pipelineText(p)) == p);
  }
  // Built in code, values needing quotes get them.
  const std::vector<PassInvocation> built = {
      {"export", {{"name", "a b"}, {"list", listValueText({"x y", "z"})}, {"odd", "{not a list"}}}};
  CHECK(pipelineText(built) == "export(name=\"a b\",list={\"x y\",z},odd=\"{not a list\")");
  CHECK(parsePipeline(pipelineText(built)) == built);
  // A string that happens to read as a list prints as one and still reads back to the same value.
  const auto brace = parsePipeline("export(name=\"{x}\")");
  CHECK(pipelineText(brace) == "export(name={x})");
  CHECK(parsePipeline(pipelineText(brace)) == brace);
  // Spacing is not kept: the printed form is canonical.
  CHECK(pipelineText(parsePipeline(" a ( x = 1 , y = { p , q } ) , b ")) == "a(x=1,y={p,q}),b");
}

TEST_CASE("pipeline text: errors point at the column") {
  checkError(pipelineError("quantize(bits=4"), "pipeline: expected ')' at column 16 in 'quantize(bits=4'");
  checkError(pipelineError("quantize(bits=4 group=2)"), "pipeline: expected ',' or ')' at column 17");
  checkError(pipelineError("quantize(bits)"), "pipeline: expected '=' after option 'bits' at column 14");
  checkError(pipelineError("quantize(bits=)"), "pipeline: expected a value for option 'bits' at column 15");
  checkError(pipelineError("quantize(=4)"), "pipeline: expected an option name at column 10");
  checkError(pipelineError("quantize,"), "pipeline: expected a pass name at column 10");
  checkError(pipelineError("quantize,,export"), "pipeline: expected a pass name at column 10");
  checkError(pipelineError("quantize bits=4"), "pipeline: expected '(' or ',' at column 10");
  checkError(pipelineError("quantize(bits=4) export"), "pipeline: expected ',' between passes at column 18");
  checkError(pipelineError("export(name=\"abc)"),
             "pipeline: unterminated quoted string (close it with \") at column 13");
  checkError(pipelineError("export(name=\"a\\nb\")"), "pipeline: unknown escape '\\n'");
  checkError(pipelineError("q(keep={a,{b}})"), "pipeline: lists cannot be nested at column 11");
  checkError(pipelineError("q(keep={a b})"), "pipeline: expected ',' or '}' at column 11");
  checkError(pipelineError("q(keep={a,"), "pipeline: expected a list element at column 11");
  checkError(pipelineError("3bit"), "pipeline: expected a pass name at column 1");
  checkError(pipelineError("   "), "pipeline is empty: name at least one pass");
  checkError(pipelineError(""), "pipeline is empty");
}

TEST_CASE("pipeline list values: text, scalar and empty forms") {
  CHECK(parseListValue("{a,b}") == std::vector<std::string>{"a", "b"});
  CHECK(parseListValue("{ a , \"b c\" }") == std::vector<std::string>{"a", "b c"});
  CHECK(parseListValue("a") == std::vector<std::string>{"a"});
  CHECK(parseListValue("a,b") == std::vector<std::string>{"a,b"});  // a quoted scalar stays one element
  CHECK(parseListValue("{}").empty());
  CHECK(parseListValue("").empty());
  CHECK(listValueText({"a", "b c", ""}) == "{a,\"b c\",\"\"}");
  checkError(errorOf([] { parseListValue("{a} b"); }), "list value: unexpected text after the list at column 5");
  CHECK(scalarText("plain") == "plain");
  CHECK(scalarText("") == "\"\"");
  CHECK(scalarText("a\"b\\c") == "\"a\\\"b\\\\c\"");
}

TEST_CASE("recipe: YAML parses into the same invocations as pipeline text") {
  const Recipe r = parseRecipeText(R"(version: 1
name: w4-gptq
description: 4-bit GPTQ, group 128
calibration: {samples: 128, seq_len: 256, seed: 0}
eval: {ctx: 256}
passes:
  - prune: {method: wanda, sparsity: 0.5}
  - quantize: {method: gptq, bits: 4, group_size: 128, keep: [lm_head, "a,b"], symmetric: true}
  - quantize: {bits: 8}
  - export:
)",
                                   "w4.yaml");
  CHECK(r.version == 1);
  CHECK(r.name == "w4-gptq");
  CHECK(r.description == "4-bit GPTQ, group 128");
  CHECK(r.calibration == std::map<std::string, std::string>{{"samples", "128"}, {"seq_len", "256"}, {"seed", "0"}});
  CHECK(r.eval == std::map<std::string, std::string>{{"ctx", "256"}});
  const auto text = parsePipeline(
      "prune(method=wanda,sparsity=0.5),quantize(method=gptq,bits=4,group_size=128,keep={lm_head,\"a,b\"},"
      "symmetric=true),quantize(bits=8),export");
  CHECK(r.passes == text);
  // Options keep the order they were written in.
  CHECK(r.passes[1].options[0].first == "method");
  CHECK(r.passes[1].options[4] == std::pair<std::string, std::string>{"symmetric", "true"});

  // Optional sections may be left out; `passes` may be one pipeline text string; `export: {}` has no options.
  const Recipe minimal = parseRecipeText("version: 1\npasses: \"quantize(bits=4),export\"\n", "m.yaml");
  CHECK(minimal.name.empty());
  CHECK(minimal.calibration.empty());
  CHECK(minimal.passes == parsePipeline("quantize(bits=4),export"));
  CHECK(parseRecipeText("version: 1\npasses:\n  - export: {}\n", "e.yaml").passes == parsePipeline("export"));
}

TEST_CASE("recipe: mistakes name the file, the line and the fix") {
  checkError(recipeError("version: 1\npases:\n  - export: {}\n"),
             "r.yaml:2: unknown key 'pases' in recipe (keys: version, name, description, calibration, eval, "
             "float_dtype, gate, gate_baseline, passes; did you mean 'passes'?)");
  checkError(recipeError("version: 1\nfloat_dtype: fp8\npasses: [export: {}]\n"),
             "r.yaml:2: float_dtype 'fp8' is not a float dtype (use f32, f16 or bf16)");
  CHECK(parseRecipeText("version: 1\nfloat_dtype: bf16\npasses: [export: {}]\n", "r.yaml").float_dtype == "bf16");
  checkError(recipeError("version: 2\npasses: [export: {}]\n"),
             "r.yaml:1: unsupported recipe version '2' (this slmc reads version 1)");
  checkError(recipeError("passes: [export: {}]\n"), "r.yaml: missing 'version: 1'");
  checkError(recipeError("version: 1\n"), "r.yaml: missing 'passes:'");
  checkError(recipeError("version: 1\npasses: []\n"), "r.yaml:2: 'passes' is empty");
  checkError(recipeError(""), "r.yaml: the recipe is empty");
  checkError(recipeError("- a\n- b\n"), "r.yaml:1: a recipe is a YAML map");
  checkError(recipeError("version: 1\npasses:\n  - export\n"),
             "r.yaml:3: each pass must be a map with one key, the pass name");
  checkError(recipeError("version: 1\npasses:\n  - {prune: {}, export: {}}\n"),
             "r.yaml:3: each pass must be a map with one key");
  checkError(recipeError("version: 1\npasses:\n  - quantize: 4\n"),
             "r.yaml:3: the options of pass 'quantize' must be a map");
  checkError(recipeError("version: 1\npasses:\n  - quantize:\n      rules: {match: x}\n"),
             "r.yaml:4: option 'rules' of pass 'quantize' must be a scalar or a list of scalars, not a map");
  checkError(recipeError("version: 1\npasses:\n  - quantize:\n      keep: [[a]]\n"),
             "r.yaml:4: option 'keep' of pass 'quantize' must be a scalar or a list of scalars (lists cannot nest)");
  checkError(recipeError("version: 1\npasses:\n  - quantize: {bits: }\n"),
             "option 'bits' of pass 'quantize' has no value");
  checkError(recipeError("version: 1\ncalibration: [a]\npasses: [export: {}]\n"),
             "r.yaml:2: 'calibration' must be a map");
  checkError(recipeError("version: 1\nversion: 1\npasses: [export: {}]\n"), "r.yaml:2: 'version' is given twice");
  checkError(recipeError("version: 1\npasses: \"quantize(bits=4\"\n"), "r.yaml:2: pipeline: expected ')' at column 16");
  checkError(recipeError("version: 1\npasses: [export: {}\n"), "r.yaml:");
  CHECK(recipeError("version: 1\npasses: [export: {}\n").find("not valid YAML") != std::string::npos);
}

TEST_CASE("recipe: files are read from disk, a missing one names the path") {
  ScratchDir dir("recipe");
  writeFile(dir / "w8.yaml", "version: 1\nname: w8\npasses:\n  - quantize: {method: rtn, bits: 8}\n");
  const Recipe r = parseRecipeFile(dir / "w8.yaml");
  CHECK(r.name == "w8");
  CHECK(pipelineText(r.passes) == "quantize(method=rtn,bits=8)");
  checkError(errorOf([&] { parseRecipeFile(dir / "nope.yaml"); }),
             "recipe '" + (dir / "nope.yaml") + "' not found: check the path");
  writeFile(dir / "bad.yaml", "version: 1\npasses:\n  - quantize: {bits: 4}\n  - prune\n");
  checkError(errorOf([&] { parseRecipeFile(dir / "bad.yaml"); }), dir / "bad.yaml:4: each pass must be a map");
}

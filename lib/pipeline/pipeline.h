// A pipeline written as text or as a YAML recipe; both parse into the same PassInvocation list,
// which the pass manager builds (MLIR's textual pipelines: one grammar for the CLI, tests and
// files).
//
// Text grammar (whitespace allowed between tokens):
//   pipeline := item (',' item)*
//   item     := name [ '(' [ option (',' option)* ] ')' ]
//   option   := name '=' value
//   value    := bare | quoted | list          list := '{' [ scalar (',' scalar)* ] '}'
//   bare     := one or more characters other than whitespace, backslash and , ( ) { } = "
//   quoted   := '"' characters, with \" and \\ as escapes '"'
// e.g.  prune(method=wanda,sparsity=0.5),quantize(method=gptq,bits=4,keep={lm_head}),export(format=hf)
//
// Option values are carried as text: a scalar as its unquoted characters, a list in its
// canonical text form ("{lm_head,embed}"); the option that receives it parses the type.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace slmc {

struct PassInvocation {
  std::string name;
  std::vector<std::pair<std::string, std::string>> options;  // in the order written

  bool operator==(const PassInvocation& o) const { return name == o.name && options == o.options; }
};

// Throws Error "pipeline: expected ')' at column 16 in 'quantize(bits=4'" on malformed text.
std::vector<PassInvocation> parsePipeline(const std::string& text);
// The text that parses back to `pipeline` ("quantize(bits=4),export").
std::string pipelineText(const std::vector<PassInvocation>& pipeline);
std::string invocationText(const PassInvocation& invocation);

// ---- option values ----
// A scalar as pipeline text writes it: bare when it can be, else quoted with escapes.
std::string scalarText(const std::string& value);
// The canonical text of a list value: "{a,b}", elements quoted where needed.
std::string listValueText(const std::vector<std::string>& items);
// A list value from its text: "{a,b}" (any spacing), "{}" or "" for the empty list, or a single
// scalar as a one-element list. Throws Error pointing at the column of a malformed list.
std::vector<std::string> parseListValue(const std::string& text);

// ---- recipes ----
// A YAML recipe (configs/*.yaml):
//   version: 1
//   name: w4-gptq
//   description: 4-bit GPTQ, group 128
//   calibration: {samples: 128, seq_len: 256, seed: 0}   # optional: settings the CLI merges
//   eval: {ctx: 256}                                      # optional
//   float_dtype: bf16            # optional: f32, f16 or bf16 for the tensors kept float
//   gate: "ppl_increase<=5%,bytes<=0.3x"  # optional: lib/report/gate.h; compress exits 1 when it fails
//   gate_baseline: baselines/x.json       # optional: relative bounds against this report (path
//                                         # relative to the recipe) instead of the original model
//   passes:                      # a list keeps order and allows the same pass twice
//     - quantize: {method: gptq, bits: 4, group_size: 128, keep: [lm_head]}
//     - export: {format: hf}
// `passes` may also be one pipeline text string. Unknown keys are rejected (a typo must not
// silently drop a setting).
struct Recipe {
  int version = 1;
  std::string name;
  std::string description;
  std::map<std::string, std::string> calibration;
  std::map<std::string, std::string> eval;
  std::string float_dtype;  // "" when not given (checked by lib/format/float_dtype.h's parseFloatDType)
  std::string gate;           // conditions as text ("" none); a YAML list is joined with ','
  std::string gate_baseline;  // as written in the recipe
  std::vector<PassInvocation> passes;
};

inline constexpr int kRecipeVersion = 1;

// `origin` names the recipe in errors ("w4.yaml:7: …").
Recipe parseRecipeText(const std::string& text, const std::string& origin);
Recipe parseRecipeFile(const std::string& path);

}  // namespace slmc

// `export`: the terminal pass that writes the model as an artifact (export_artifact.h), so a
// pipeline or recipe says where its result goes: `…,quantize(bits=4),export(format=pack)`.
// The path is the run's output (-o, PassContext::output); `slmc export` is this pass on its own.
#pragma once

#include "lib/pipeline/pass.h"
#include "passes/export/export_artifact.h"

namespace slmc {

class ExportPass : public Pass {
 public:
  ExportPass();

  Option<std::string> format{*this, "format",
                             "hf (directory), pack (.slmc) or gguf (llama.cpp); auto: pack for an output ending in "
                             ".slmc, gguf for .gguf, hf otherwise",
                             "auto"};
  Option<std::string> quant_format{*this, "quant_format",
                                   "hf: how quantized weights are stored: slmc (slmc reads it back exactly) or "
                                   "compressed-tensors (pack-quantized, loads in transformers and vLLM; int4/int8 "
                                   "weight-only schemes) or gptq (AutoGPTQ checkpoint; one int2/int4/int8 scheme)",
                                   "slmc"};
  Option<std::string> tokenizer{*this, "tokenizer",
                                "pack, gguf: tokenizer file to carry (default: the source model's)", ""};
  Option<bool> exact{*this, "exact", "gguf: fail instead of re-encoding a tensor no ggml type holds exactly", false};
  Option<std::string> float_dtype{*this, "float_dtype",
                                  "dtype of the float tensors: f32, f16, bf16; auto: the run's --float-dtype, else "
                                  "each tensor's own (lib/format/float_dtype.h)",
                                  "auto"};

  // What this pass will write to `output` (its format resolved), for checks before any work.
  ExportSettings settingsFor(const std::string& output) const;

  PassTraits traits() const override;
  PassResult run(Model& model, PassContext& context) override;
};

}  // namespace slmc

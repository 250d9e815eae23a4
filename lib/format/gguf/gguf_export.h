// A Model as a llama.cpp GGUF (v3, architecture "llama"): the llama.* metadata llama.cpp's
// loader reads, the tokenizer as tokenizer.ggml.* keys, tensors under llama.cpp's names with
// q/k rows permuted back to its interleaved rotary layout and dimensions in ggml order.
// Float tensors keep their dtype (F32 / F16 / BF16; 1-D norms widened to F32, exactly, since
// llama.cpp's CPU kernels multiply by F32 norms); quantized weights become the ggml block type
// that holds their grid exactly, or a re-encoding whose error is recorded
// (lib/format/gguf/gguf_encode.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/format/gguf/gguf_tokenizer.h"
#include "lib/format/gguf/gguf_writer.h"
#include "lib/model/model.h"

namespace slmc::gguf {

struct GgufExportOptions {
  bool exact = false;  // refuse (Error) instead of re-encoding any tensor
};

// What one model tensor became.
struct GgufTensorRecord {
  std::string name;       // slmc / Hugging Face name
  std::string gguf_name;  // blk.3.attn_q.weight
  std::string source;     // slmc's storage: "F16", "int4-g32-sym"
  std::string ggml_type;  // "Q4_0"
  bool exact = true;      // reads back to exactly the model's values
  double max_abs_error = 0, rms_error = 0;
  std::string reason;     // quantized tensors: why this type
};

struct GgufExport {
  GgufWriter writer;
  std::vector<GgufTensorRecord> tensors;
  std::vector<std::string> warnings;
};

// Builds the file's contents. `tokenizer` may be null (no tokenizer keys: llama.cpp cannot run
// such a file, slmc can read it). Throws Error for a model llama.cpp's llama architecture cannot
// express, a tokenizer larger than the embedding, or (options.exact) a tensor that would need
// re-encoding.
GgufExport buildGgufExport(const Model& model, const GgufTokenizerMetadata* tokenizer, const GgufExportOptions& options);

// Whether `model` exports to GGUF, and how: for `slmc inspect`.
struct GgufExportability {
  bool possible = false;
  bool exact = false;
  std::string detail;  // "exact: 210 Q4_0, 62 F32", "3 of 12 tensors re-encoded", or why not
};
GgufExportability ggufExportability(const Model& model);

// The tokenizer a GGUF of `model` carries: `override_path` when given (a .gguf's tokenizer.ggml.*
// keys, or a tokenizer.json with the tokenizer_config.json beside it), else the source GGUF's
// keys as they are, else the tokenizer.json of the source directory or pack. nullopt when there
// is none. `origin` receives where it came from.
std::optional<GgufTokenizerMetadata> ggufTokenizerFor(const Model& model, const std::string& override_path,
                                                      std::string& origin);

}  // namespace slmc::gguf

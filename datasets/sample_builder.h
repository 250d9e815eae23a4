// Documents in, fixed-length token samples out. The boundary policy, in full:
//  1. Each document is encoded on its own as the model's tokenizer encodes a text by default:
//     with BOS prepended when it adds one (Tokenizer::addsBosByDefault: llama2.c, Llama), as
//     llama2.c and Llama pretraining do: BOS marks where a document starts. A tokenizer that adds
//     no BOS (GPT-2, SmolLM2: add_bos_token false) gets its EOS appended instead, so documents
//     stay separated without feeding the model a BOS it never saw in front of text.
//  2. The encoded documents are concatenated, in reading order, into one token stream.
//  3. The stream is cut into consecutive, non-overlapping samples of exactly seq_len ids. A sample
//     may span a document boundary (the BOS inside it marks the boundary); nothing is padded.
//  4. The tail of the stream shorter than seq_len is dropped (its size is reported).
// Sample i is therefore stream[i*seq_len, (i+1)*seq_len).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/text_source.h"
#include "datasets/tokenizer.h"

namespace slmc {

// Step 1: the ids of one document. Tokenizer errors (invalid UTF-8 at byte N) are re-thrown with
// the document's file and starting line in front.
std::vector<int32_t> encodeDocument(const Tokenizer& tokenizer, const Document& doc);

// Steps 2–4 over already encoded documents: append documents, pop full samples.
class SampleBuilder {
 public:
  explicit SampleBuilder(int64_t seq_len);
  void append(const std::vector<int32_t>& ids);
  // Moves the next full sample into `sample`; false when fewer than seq_len ids are buffered.
  bool pop(std::vector<int32_t>& sample);
  // Ids buffered but not yet in a sample: what is dropped if the input ends now.
  int64_t pendingTokens() const { return static_cast<int64_t>(buffer_.size() - read_); }
  int64_t seqLen() const { return seq_len_; }

 private:
  int64_t seq_len_;
  std::vector<int32_t> buffer_;
  size_t read_ = 0;  // buffer_[read_, end) are pending
};

// The whole pipeline over files: reads documents one at a time, encodes them and hands out
// samples, so memory stays near one document plus one sample.
class SampleStream {
 public:
  SampleStream(DocumentReader& reader, const Tokenizer& tokenizer, int64_t seq_len);
  bool next(std::vector<int32_t>& sample);

  int64_t documents() const { return documents_; }
  int64_t tokens() const { return tokens_; }  // ids in the stream so far
  // Valid once next() returned false.
  int64_t droppedTailTokens() const { return builder_.pendingTokens(); }

 private:
  DocumentReader& reader_;
  const Tokenizer& tokenizer_;
  SampleBuilder builder_;
  int64_t documents_ = 0;
  int64_t tokens_ = 0;
};

// Steps 1–2 only: the whole token stream (for evaluation, which slides its own windows), stopping
// once it holds `max_tokens` ids when max_tokens > 0 (the rest of the input is not read).
struct TokenStream {
  std::vector<int32_t> ids;
  int64_t documents = 0;
};
TokenStream tokenizeDocuments(DocumentReader& reader, const Tokenizer& tokenizer, int64_t max_tokens = 0);

// The policy in one line, recorded in dataset provenance.
std::string boundaryPolicyDescription(const Tokenizer& tokenizer);

}  // namespace slmc

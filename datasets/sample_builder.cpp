#include "datasets/sample_builder.h"

#include "lib/support/error.h"

namespace slmc {

std::vector<int32_t> encodeDocument(const Tokenizer& tokenizer, const Document& doc) {
  std::vector<int32_t> ids;
  try {
    ids = tokenizer.encode(doc.text, tokenizer.addsBosByDefault());
  } catch (const Error& e) {
    throw Error(doc.file + ": document starting at line " + std::to_string(doc.line) + ": " + e.what());
  }
  if (!tokenizer.addsBosByDefault() && tokenizer.eosId() >= 0) ids.push_back(tokenizer.eosId());
  return ids;
}

SampleBuilder::SampleBuilder(int64_t seq_len) : seq_len_(seq_len) {
  require(seq_len >= 1, "--seq-len must be at least 1 (got " + std::to_string(seq_len) + ")");
}

void SampleBuilder::append(const std::vector<int32_t>& ids) {
  // Drop consumed ids before growing, so the buffer stays near one document plus one sample.
  if (read_ > 0 && read_ >= buffer_.size() / 2) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_));
    read_ = 0;
  }
  buffer_.insert(buffer_.end(), ids.begin(), ids.end());
}

bool SampleBuilder::pop(std::vector<int32_t>& sample) {
  if (pendingTokens() < seq_len_) return false;
  const auto first = buffer_.begin() + static_cast<std::ptrdiff_t>(read_);
  sample.assign(first, first + seq_len_);
  read_ += static_cast<size_t>(seq_len_);
  return true;
}

SampleStream::SampleStream(DocumentReader& reader, const Tokenizer& tokenizer, int64_t seq_len)
    : reader_(reader), tokenizer_(tokenizer), builder_(seq_len) {}

bool SampleStream::next(std::vector<int32_t>& sample) {
  Document doc;
  while (!builder_.pop(sample)) {
    if (!reader_.next(doc)) return false;
    const std::vector<int32_t> ids = encodeDocument(tokenizer_, doc);
    ++documents_;
    tokens_ += static_cast<int64_t>(ids.size());
    builder_.append(ids);
  }
  return true;
}

TokenStream tokenizeDocuments(DocumentReader& reader, const Tokenizer& tokenizer, int64_t max_tokens) {
  TokenStream stream;
  Document doc;
  while ((max_tokens <= 0 || static_cast<int64_t>(stream.ids.size()) < max_tokens) && reader.next(doc)) {
    const std::vector<int32_t> ids = encodeDocument(tokenizer, doc);
    stream.ids.insert(stream.ids.end(), ids.begin(), ids.end());
    ++stream.documents;
  }
  if (max_tokens > 0 && static_cast<int64_t>(stream.ids.size()) > max_tokens)
    stream.ids.resize(static_cast<size_t>(max_tokens));
  return stream;
}

std::string boundaryPolicyDescription(const Tokenizer& tokenizer) {
  const std::string separator = tokenizer.addsBosByDefault() ? "BOS prepended to each document"
                                : tokenizer.eosId() >= 0     ? "EOS appended to each document (no BOS)"
                                                             : "no separator (tokenizer has neither BOS nor EOS)";
  return separator +
         "; documents concatenated in reading order; cut into consecutive seq_len samples; "
         "tail shorter than seq_len dropped";
}

}  // namespace slmc

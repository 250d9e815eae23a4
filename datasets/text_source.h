// Text in: the files a dataset is built from, read as a stream of documents. Nothing here holds
// more than one document (plus one read chunk) in memory, so corpora larger than memory stream.
//
// Formats (what a document is):
//  - text:       the whole file is one document, verbatim (the file is held in memory);
//  - lines:      every non-blank line is one document;
//  - paragraphs: runs of non-blank lines separated by blank lines; the lines of a paragraph are
//                joined with '\n';
//  - jsonl:      one JSON object per non-blank line; the document is its string field (`field`,
//                default "text"); objects whose field is "" are skipped.
//  - auto:       jsonl for *.jsonl files, paragraphs for everything else.
// A line is blank when it holds only spaces, tabs or '\r'. Line ends ("\n" or "\r\n") are not part
// of a line; everything else is kept byte for byte (no trimming, no normalisation).
// Every input file must yield at least one document: an empty (or all-blank) file is an error,
// since it almost always means a wrong path or a failed download.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace slmc {

enum class TextFormat { Auto, Text, Lines, Paragraphs, Jsonl };

// "auto", "text", "lines", "paragraphs" or "jsonl"; throws Error on anything else.
TextFormat parseTextFormat(const std::string& name);
const char* textFormatName(TextFormat format);
// The format a file is read with: `requested`, or for Auto the one its extension implies.
TextFormat resolveTextFormat(const std::string& path, TextFormat requested);

// The files `inputs` name: a file as given; a directory expands to the *.txt and *.jsonl files
// below it (recursively), sorted by path so the order does not depend on the filesystem.
// Throws Error for a missing path or a directory with no such files.
std::vector<std::string> expandInputs(const std::vector<std::string>& inputs);

struct Document {
  std::string text;
  std::string file;
  int64_t line = 0;  // 1-based line the document starts on (for error messages)
};

// What was read from one file; `sha256` and `bytes` cover every byte of the file.
struct SourceFile {
  std::string path;
  std::string format;  // the resolved format
  int64_t bytes = 0;
  int64_t documents = 0;
  std::string sha256;
};

struct TextSourceOptions {
  TextFormat format = TextFormat::Auto;
  std::string field = "text";    // jsonl
  size_t chunk_bytes = 1 << 20;  // read size; a line longer than this grows the buffer
};

class DocumentReader {
 public:
  DocumentReader(std::vector<std::string> files, TextSourceOptions options);
  ~DocumentReader();
  DocumentReader(const DocumentReader&) = delete;
  DocumentReader& operator=(const DocumentReader&) = delete;

  // The next document in file order; false once every file is read. Throws Error naming
  // file:line for malformed input (JSONL that is not JSON or lacks the field, empty files).
  bool next(Document& doc);
  // The files read to the end so far, in order.
  const std::vector<SourceFile>& filesRead() const { return done_; }

 private:
  class LineReader;
  bool openNextFile();
  void finishFile();
  bool nextInFile(Document& doc);

  std::vector<std::string> files_;
  TextSourceOptions options_;
  size_t next_file_ = 0;
  std::unique_ptr<LineReader> reader_;
  SourceFile current_;
  TextFormat current_format_ = TextFormat::Auto;
  std::vector<SourceFile> done_;
};

}  // namespace slmc

#include "datasets/text_source.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "datasets/sha256.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"

namespace slmc {

namespace fs = std::filesystem;

namespace {
bool isBlank(const std::string& line) { return line.find_first_not_of(" \t\r\n") == std::string::npos; }
}  // namespace

TextFormat parseTextFormat(const std::string& name) {
  if (name == "auto") return TextFormat::Auto;
  if (name == "text") return TextFormat::Text;
  if (name == "lines") return TextFormat::Lines;
  if (name == "paragraphs") return TextFormat::Paragraphs;
  if (name == "jsonl") return TextFormat::Jsonl;
  throw Error("unknown text format '" + name + "' (use auto, text, lines, paragraphs or jsonl)");
}

const char* textFormatName(TextFormat format) {
  switch (format) {
    case TextFormat::Auto:
      return "auto";
    case TextFormat::Text:
      return "text";
    case TextFormat::Lines:
      return "lines";
    case TextFormat::Paragraphs:
      return "paragraphs";
    case TextFormat::Jsonl:
      return "jsonl";
  }
  return "?";
}

TextFormat resolveTextFormat(const std::string& path, TextFormat requested) {
  if (requested != TextFormat::Auto) return requested;
  return endsWith(path, ".jsonl") ? TextFormat::Jsonl : TextFormat::Paragraphs;
}

std::vector<std::string> expandInputs(const std::vector<std::string>& inputs) {
  require(!inputs.empty(), "no input files given (pass --input FILE or --input DIR)");
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    const fs::file_status status = fs::status(input, ec);
    require(fs::exists(status), "input '" + input + "' does not exist (check the path)");
    if (!fs::is_directory(status)) {
      files.push_back(input);
      continue;
    }
    std::vector<std::string> found;
    for (const auto& entry : fs::recursive_directory_iterator(input)) {
      const std::string path = entry.path().string();
      if (entry.is_regular_file() && (endsWith(path, ".txt") || endsWith(path, ".jsonl"))) found.push_back(path);
    }
    require(!found.empty(), "directory '" + input + "' holds no .txt or .jsonl files (point --input at the text)");
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

// Reads a file line by line in chunks of a fixed size, hashing every byte as it goes by.
class DocumentReader::LineReader {
 public:
  LineReader(const std::string& path, size_t chunk_bytes) : path_(path), buffer_(std::max<size_t>(chunk_bytes, 1)) {
    file_ = std::fopen(path.c_str(), "rb");
    require(file_ != nullptr, "cannot read '" + path + "': " + std::strerror(errno));
  }
  ~LineReader() {
    if (file_) std::fclose(file_);
  }

  // The next line without its "\n" / "\r\n"; false at the end of the file.
  bool next(std::string& line) {
    for (;;) {
      const char* begin = buffer_.data() + begin_;
      const char* newline = static_cast<const char*>(std::memchr(begin, '\n', end_ - begin_));
      if (newline) {
        line.assign(begin, newline);
        begin_ = static_cast<size_t>(newline - buffer_.data()) + 1;
        break;
      }
      if (eof_) {
        if (begin_ == end_) return false;
        line.assign(begin, end_ - begin_);
        begin_ = end_;
        break;
      }
      fill();
    }
    ++line_number_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
  }

  // The rest of the file, verbatim.
  std::string readAll() {
    while (!eof_) fill();
    std::string rest(buffer_.data() + begin_, end_ - begin_);
    begin_ = end_;
    return rest;
  }

  int64_t lineNumber() const { return line_number_; }
  int64_t bytes() const { return bytes_; }
  std::string sha256() { return sha_.hexDigest(); }

 private:
  // Moves the unread bytes to the front, grows the buffer when a line fills it, reads a chunk.
  void fill() {
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
    const size_t n = std::fread(buffer_.data() + end_, 1, buffer_.size() - end_, file_);
    require(!std::ferror(file_), "reading '" + path_ + "' failed (I/O error)");
    sha_.update(buffer_.data() + end_, n);
    bytes_ += static_cast<int64_t>(n);
    end_ += n;
    if (n == 0) eof_ = true;
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  std::vector<char> buffer_;
  size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  int64_t line_number_ = 0;
  int64_t bytes_ = 0;
  Sha256 sha_;
};

DocumentReader::DocumentReader(std::vector<std::string> files, TextSourceOptions options)
    : files_(std::move(files)), options_(std::move(options)) {}

DocumentReader::~DocumentReader() = default;

bool DocumentReader::openNextFile() {
  if (next_file_ == files_.size()) return false;
  const std::string& path = files_[next_file_++];
  current_format_ = resolveTextFormat(path, options_.format);
  current_ = SourceFile{path, textFormatName(current_format_), 0, 0, ""};
  reader_ = std::make_unique<LineReader>(path, options_.chunk_bytes);
  return true;
}

void DocumentReader::finishFile() {
  current_.bytes = reader_->bytes();
  current_.sha256 = reader_->sha256();
  reader_.reset();
  require(current_.bytes > 0, current_.path + ": empty file (remove it from the inputs or fix the path)");
  require(current_.documents > 0, current_.path + ": no text in the file (only blank lines" +
                                      std::string(current_format_ == TextFormat::Jsonl ? " or empty fields" : "") +
                                      "); remove it from the inputs");
  done_.push_back(std::move(current_));
}

bool DocumentReader::next(Document& doc) {
  for (;;) {
    if (!reader_ && !openNextFile()) return false;
    if (nextInFile(doc)) {
      ++current_.documents;
      doc.file = current_.path;
      return true;
    }
    finishFile();
  }
}

bool DocumentReader::nextInFile(Document& doc) {
  std::string line;
  switch (current_format_) {
    case TextFormat::Auto:  // resolved in openNextFile
    case TextFormat::Text:
      // A second call finds the reader at the end: readAll() gives "" and the file is done.
      doc.text = reader_->readAll();
      doc.line = 1;
      return !isBlank(doc.text);
    case TextFormat::Lines:
      while (reader_->next(line)) {
        if (isBlank(line)) continue;
        doc.text = std::move(line);
        doc.line = reader_->lineNumber();
        return true;
      }
      return false;
    case TextFormat::Paragraphs: {
      doc.text.clear();
      while (reader_->next(line)) {
        if (isBlank(line)) {
          if (!doc.text.empty()) return true;
          continue;
        }
        if (doc.text.empty()) {
          doc.line = reader_->lineNumber();
          doc.text = std::move(line);
        } else {
          doc.text += '\n';
          doc.text += line;
        }
      }
      return !doc.text.empty();
    }
    case TextFormat::Jsonl:
      while (reader_->next(line)) {
        if (isBlank(line)) continue;
        const std::string where = current_.path + ":" + std::to_string(reader_->lineNumber());
        const nlohmann::json object = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        require(!object.is_discarded(),
                where + ": not valid JSON or not UTF-8 (each line of a JSONL file must be one JSON object)");
        const auto field = object.is_object() ? object.find(options_.field) : object.end();
        require(object.is_object() && field != object.end() && field->is_string(),
                where + ": no string field \"" + options_.field + "\" in this line (choose the field with --field)");
        if (field->get_ref<const std::string&>().empty()) continue;
        doc.text = field->get<std::string>();
        doc.line = reader_->lineNumber();
        return true;
      }
      return false;
  }
  return false;
}

}  // namespace slmc

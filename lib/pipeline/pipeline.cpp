#include "lib/pipeline/pipeline.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <filesystem>
#include <set>

#include "lib/format/float_dtype.h"
#include "lib/support/closest_match.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"
#include "lib/support/join_text.h"

namespace slmc {

namespace {

bool isBareChar(char c) {
  return !std::isspace(static_cast<unsigned char>(c)) && c != ',' && c != '(' && c != ')' && c != '{' && c != '}' &&
         c != '=' && c != '"' && c != '\\';
}
bool isNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool isNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'; }

// Reads the text grammar of pipeline.h left to right. Every error names the column (1-based)
// where the text stops making sense and quotes the whole text.
class Scanner {
 public:
  Scanner(const std::string& text, const char* what) : text_(text), what_(what) {}

  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return atEnd() ? '\0' : text_[pos_]; }
  void skipSpace() {
    while (!atEnd() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool accept(char c) {
    if (peek() != c || atEnd()) return false;
    ++pos_;
    return true;
  }

  [[noreturn]] void fail(const std::string& problem) const { failAt(problem, pos_); }
  [[noreturn]] void failAt(const std::string& problem, size_t pos) const {
    throw Error(std::string(what_) + ": " + problem + " at column " + std::to_string(pos + 1) + " in '" + text_ + "'");
  }

  // A pass or option name.
  std::string name(const std::string& expected) {
    if (!isNameStart(peek())) fail("expected " + expected);
    const size_t start = pos_;
    while (!atEnd() && isNameChar(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  // A bare word or a quoted string, unquoted.
  std::string scalar(const std::string& expected) {
    if (peek() == '"') return quoted();
    const size_t start = pos_;
    while (!atEnd() && isBareChar(text_[pos_])) ++pos_;
    if (pos_ == start) fail("expected " + expected);
    return text_.substr(start, pos_ - start);
  }

  // '{' [scalar (',' scalar)*] '}'
  std::vector<std::string> list() {
    if (!accept('{')) fail("expected '{'");
    std::vector<std::string> items;
    skipSpace();
    if (accept('}')) return items;
    for (;;) {
      if (peek() == '{') fail("lists cannot be nested");
      items.push_back(scalar("a list element"));
      skipSpace();
      if (accept('}')) return items;
      if (!accept(',')) fail(atEnd() ? "expected '}'" : "expected ',' or '}'");
      skipSpace();
    }
  }

  // An option value in the form PassInvocation carries (see pipeline.h).
  std::string value(const std::string& expected) {
    if (peek() == '{') return listValueText(list());
    return scalar(expected);
  }

 private:
  std::string quoted() {
    const size_t start = pos_++;
    std::string out;
    while (!atEnd()) {
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (c == '\\') {
        if (atEnd()) break;
        const char escaped = text_[pos_];
        if (escaped != '"' && escaped != '\\')
          fail("unknown escape '\\" + std::string(1, escaped) + "' (use \\\" or \\\\)");
        ++pos_;
        out += escaped;
      } else {
        out += c;
      }
    }
    failAt("unterminated quoted string (close it with \")", start);
  }

  const std::string& text_;
  const char* what_;
  size_t pos_ = 0;
};

// Whether `value` is exactly the canonical text of a list (so printing it bare reads it back).
bool isCanonicalList(const std::string& value) {
  if (value.empty() || value[0] != '{') return false;
  try {
    return listValueText(parseListValue(value)) == value;
  } catch (const Error&) {
    return false;
  }
}

std::string optionValueText(const std::string& value) { return isCanonicalList(value) ? value : scalarText(value); }

}  // namespace

// ---- text ----

std::vector<PassInvocation> parsePipeline(const std::string& text) {
  Scanner s(text, "pipeline");
  s.skipSpace();
  require(!s.atEnd(),
          "pipeline is empty: name at least one pass, e.g. 'quantize(method=rtn,bits=8)' (see `slmc passes`)");
  std::vector<PassInvocation> pipeline;
  for (;;) {
    PassInvocation invocation;
    invocation.name = s.name("a pass name");
    s.skipSpace();
    const bool has_options = s.accept('(');
    if (has_options) {
      s.skipSpace();
      if (!s.accept(')')) {
        for (;;) {
          std::string key = s.name("an option name");
          s.skipSpace();
          if (!s.accept('=')) s.fail("expected '=' after option '" + key + "'");
          s.skipSpace();
          std::string value = s.value("a value for option '" + key + "'");
          invocation.options.emplace_back(std::move(key), std::move(value));
          s.skipSpace();
          if (s.accept(')')) break;
          if (!s.accept(',')) s.fail(s.atEnd() ? "expected ')'" : "expected ',' or ')'");
          s.skipSpace();
        }
      }
    }
    pipeline.push_back(std::move(invocation));
    s.skipSpace();
    if (s.atEnd()) return pipeline;
    if (!s.accept(',')) s.fail(has_options ? "expected ',' between passes" : "expected '(' or ','");
    s.skipSpace();
  }
}

std::string invocationText(const PassInvocation& invocation) {
  std::string out = invocation.name;
  if (invocation.options.empty()) return out;
  out += '(';
  for (size_t i = 0; i < invocation.options.size(); ++i)
    out += (i ? "," : "") + invocation.options[i].first + "=" + optionValueText(invocation.options[i].second);
  return out + ')';
}

std::string pipelineText(const std::vector<PassInvocation>& pipeline) {
  std::string out;
  for (size_t i = 0; i < pipeline.size(); ++i) out += (i ? "," : "") + invocationText(pipeline[i]);
  return out;
}

std::string scalarText(const std::string& value) {
  bool bare = !value.empty();
  for (char c : value) bare = bare && isBareChar(c);
  if (bare) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

std::string listValueText(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + scalarText(items[i]);
  return out + '}';
}

std::vector<std::string> parseListValue(const std::string& text) {
  if (text.empty()) return {};
  if (text[0] != '{') return {text};
  Scanner s(text, "list value");
  std::vector<std::string> items = s.list();
  s.skipSpace();
  if (!s.atEnd()) s.fail("unexpected text after the list");
  return items;
}

// ---- recipes ----

namespace {

const std::vector<std::string> kRecipeKeys = {"version", "name", "description", "calibration", "eval", "float_dtype",
                                              "gate", "gate_baseline", "passes"};

// Reports problems as "<origin>:<line>: <problem>", the line taken from the node yaml-cpp read.
class RecipeReader {
 public:
  explicit RecipeReader(std::string origin) : origin_(std::move(origin)) {}

  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& problem) const {
    throw Error(where(mark) + ": " + problem);
  }
  std::string where(const YAML::Mark& mark) const {
    return mark.is_null() ? origin_ : origin_ + ":" + std::to_string(mark.line + 1);
  }

  std::string scalar(const YAML::Node& node, const std::string& what) const {
    if (!node.IsScalar()) fail(node.Mark(), what + " must be a single value (a string or number)");
    return node.Scalar();
  }

  // A scalar, or a list of scalars in its list text ("{a,b}"): what option values are.
  std::string value(const YAML::Node& node, const std::string& what) const {
    if (node.IsNull()) fail(node.Mark(), what + " has no value: write one after the ':' or remove the key");
    if (node.IsScalar()) return node.Scalar();
    if (node.IsSequence()) {
      std::vector<std::string> items;
      for (const YAML::Node& item : node) {
        if (!item.IsScalar()) fail(item.Mark(), what + " must be a scalar or a list of scalars (lists cannot nest)");
        items.push_back(item.Scalar());
      }
      return listValueText(items);
    }
    fail(node.Mark(), what + " must be a scalar or a list of scalars, not a map");
  }

  std::map<std::string, std::string> section(const YAML::Node& node, const std::string& name) const {
    std::map<std::string, std::string> out;
    if (node.IsNull()) return out;
    if (!node.IsMap()) fail(node.Mark(), "'" + name + "' must be a map like {key: value}");
    for (const auto& entry : node) {
      const std::string key = scalar(entry.first, "a key of '" + name + "'");
      if (!out.emplace(key, value(entry.second, "'" + name + "." + key + "'")).second)
        fail(entry.first.Mark(), "'" + name + "." + key + "' is given twice: keep one");
    }
    return out;
  }

  PassInvocation passItem(const YAML::Node& item) const {
    const std::string hint = " like '- quantize: {bits: 4}' (or '- export: {}' for no options)";
    if (!item.IsMap() || item.size() != 1)
      fail(item.Mark(), "each pass must be a map with one key, the pass name," + hint);
    const auto entry = *item.begin();
    PassInvocation invocation;
    invocation.name = scalar(entry.first, "a pass name");
    const YAML::Node& options = entry.second;
    if (options.IsNull()) return invocation;
    if (!options.IsMap()) fail(options.Mark(), "the options of pass '" + invocation.name + "' must be a map" + hint);
    for (const auto& option : options) {
      std::string key = scalar(option.first, "an option name of pass '" + invocation.name + "'");
      std::string text = value(option.second, "option '" + key + "' of pass '" + invocation.name + "'");
      invocation.options.emplace_back(std::move(key), std::move(text));
    }
    return invocation;
  }

  std::vector<PassInvocation> passes(const YAML::Node& node) const {
    std::vector<PassInvocation> out;
    if (node.IsScalar()) {  // one pipeline text string
      try {
        out = parsePipeline(node.Scalar());
      } catch (const Error& e) {
        fail(node.Mark(), e.what());
      }
    } else if (node.IsSequence()) {
      for (const YAML::Node& item : node) out.push_back(passItem(item));
    } else {
      fail(node.Mark(), "'passes' must be a list of passes, e.g. 'passes: [{quantize: {bits: 4}}]'");
    }
    if (out.empty()) fail(node.Mark(), "'passes' is empty: list at least one pass (see `slmc passes`)");
    return out;
  }

  Recipe recipe(const std::string& text) const {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      fail(e.mark, "not valid YAML: " + e.msg + " (fix the syntax there)");
    }
    if (root.IsNull()) fail(YAML::Mark::null_mark(), "the recipe is empty: it needs 'version: 1' and 'passes:'");
    if (!root.IsMap()) fail(root.Mark(), "a recipe is a YAML map with 'version: 1' and 'passes:' (see configs/)");
    Recipe r;
    std::set<std::string> seen;
    for (const auto& entry : root) {
      const std::string key = scalar(entry.first, "a recipe key");
      if (!seen.insert(key).second) fail(entry.first.Mark(), "'" + key + "' is given twice: keep one");
      const YAML::Node& node = entry.second;
      if (key == "version") {
        const std::string v = scalar(node, "'version'");
        if (v != std::to_string(kRecipeVersion))
          fail(node.Mark(), "unsupported recipe version '" + v + "' (this slmc reads version " +
                                std::to_string(kRecipeVersion) + "): write 'version: 1' and the version 1 keys");
        r.version = kRecipeVersion;
      } else if (key == "name") {
        r.name = scalar(node, "'name'");
      } else if (key == "description") {
        r.description = scalar(node, "'description'");
      } else if (key == "calibration") {
        r.calibration = section(node, key);
      } else if (key == "eval") {
        r.eval = section(node, key);
      } else if (key == "float_dtype") {
        r.float_dtype = scalar(node, "'float_dtype'");
        try {
          parseFloatDType(r.float_dtype, "float_dtype");
        } catch (const Error& e) {
          fail(node.Mark(), e.what());
        }
      } else if (key == "gate") {
        if (node.IsSequence()) {
          for (const YAML::Node& item : node) r.gate += (r.gate.empty() ? "" : ",") + scalar(item, "a 'gate' condition");
        } else {
          r.gate = scalar(node, "'gate' (conditions like \"bytes<=100MB,kl<=0.02\", or a list of them)");
        }
      } else if (key == "gate_baseline") {
        r.gate_baseline = scalar(node, "'gate_baseline' (a report JSON path)");
      } else if (key == "passes") {
        r.passes = passes(node);
      } else {
        std::string message = "unknown key '" + key + "' in recipe (keys: ";
        message += joinText(kRecipeKeys);
        const std::string guess = closestMatch(key, kRecipeKeys);
        if (!guess.empty()) message += "; did you mean '" + guess + "'?";
        fail(entry.first.Mark(), message + ")");
      }
    }
    if (!seen.count("version"))
      fail(YAML::Mark::null_mark(), "missing 'version: 1' (recipes are versioned): add it at the top");
    if (!seen.count("passes"))
      fail(YAML::Mark::null_mark(), "missing 'passes:': list the passes to run (see `slmc passes`)");
    return r;
  }

 private:
  std::string origin_;
};

}  // namespace

Recipe parseRecipeText(const std::string& text, const std::string& origin) { return RecipeReader(origin).recipe(text); }

Recipe parseRecipeFile(const std::string& path) {
  std::error_code ec;
  require(std::filesystem::is_regular_file(path, ec),
          "recipe '" + path + "' not found: check the path (ready recipes are in configs/)");
  return parseRecipeText(readTextFile(path), path);
}

}  // namespace slmc

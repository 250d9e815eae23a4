// The Jinja2 subset of chat templates: lexing (with Jinja's whitespace rules), parsing into a small
// tree, rendering. See chat_template.h for what is supported.
#include "datasets/chat_template.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <memory>
#include <optional>
#include <variant>

#include "lib/support/error.h"

namespace slmc {

namespace {

[[noreturn]] void unsupported(const std::string& construct) {
  throw Error("chat template uses '" + construct +
              "', which slmc does not implement; pass a plain prompt without --chat");
}

[[noreturn]] void syntaxError(const std::string& what, size_t offset) {
  throw Error("chat template has a syntax error at byte " + std::to_string(offset) + ": " + what +
              "; fix tokenizer_config.json's chat_template or pass a plain prompt without --chat");
}

// ---------------------------------------------------------------------------------------------
// Values

struct Value;
using List = std::vector<Value>;
using Map = std::map<std::string, Value>;
struct Undefined {};
struct None {};

struct Value {
  std::variant<Undefined, None, bool, int64_t, std::string, std::shared_ptr<List>, std::shared_ptr<Map>> v;

  bool isUndefined() const { return std::holds_alternative<Undefined>(v); }
  const std::string* string() const { return std::get_if<std::string>(&v); }
  const List* list() const {
    const auto* p = std::get_if<std::shared_ptr<List>>(&v);
    return p ? p->get() : nullptr;
  }
  const Map* map() const {
    const auto* p = std::get_if<std::shared_ptr<Map>>(&v);
    return p ? p->get() : nullptr;
  }
  const int64_t* integer() const { return std::get_if<int64_t>(&v); }

  bool truthy() const {
    if (const bool* b = std::get_if<bool>(&v)) return *b;
    if (const int64_t* i = integer()) return *i != 0;
    if (const std::string* s = string()) return !s->empty();
    if (const List* l = list()) return !l->empty();
    if (const Map* m = map()) return !m->empty();
    return false;  // undefined, none
  }

  // As Python's str() would print it, for the scalars templates print.
  std::string text() const {
    if (isUndefined()) return "";
    if (std::holds_alternative<None>(v)) return "None";
    if (const bool* b = std::get_if<bool>(&v)) return *b ? "True" : "False";
    if (const int64_t* i = integer()) return std::to_string(*i);
    if (const std::string* s = string()) return *s;
    unsupported("printing a list or mapping");
  }
};

Value makeString(std::string s) { return Value{std::move(s)}; }
Value makeBool(bool b) { return Value{b}; }

bool equal(const Value& a, const Value& b) {
  if (a.v.index() != b.v.index()) {
    // Python: True == 1; everything else of different types differs.
    const auto asInt = [](const Value& x) -> std::optional<int64_t> {
      if (const bool* p = std::get_if<bool>(&x.v)) return *p ? 1 : 0;
      if (const int64_t* p = x.integer()) return *p;
      return std::nullopt;
    };
    const auto x = asInt(a), y = asInt(b);
    return x && y && *x == *y;
  }
  if (a.isUndefined() || std::holds_alternative<None>(a.v)) return true;
  if (const bool* p = std::get_if<bool>(&a.v)) return *p == std::get<bool>(b.v);
  if (const int64_t* p = a.integer()) return *p == *b.integer();
  if (const std::string* p = a.string()) return *p == *b.string();
  if (const List* l = a.list()) {
    const List& r = *b.list();
    if (l->size() != r.size()) return false;
    for (size_t i = 0; i < l->size(); ++i)
      if (!equal((*l)[i], r[i])) return false;
    return true;
  }
  return a.map() == b.map();
}

// ---------------------------------------------------------------------------------------------
// Lexing the template into text and tags, with Jinja's whitespace rules.

struct Segment {
  enum Kind { kText, kOutput, kStatement } kind;
  std::string body;  // the text, or the tag's inside without delimiters and '-'
  size_t offset;     // where the tag starts in the template
};

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::vector<Segment> lexTemplate(const std::string& t) {
  std::vector<Segment> out;
  size_t pos = 0;
  bool strip_next = false;  // the previous tag ended with '-'
  bool trim_newline = false;  // the previous tag was a block or comment: trim_blocks
  bool line_starting = true;  // the text begins a line (template start, or a trimmed newline before it)
  while (pos <= t.size()) {
    size_t open = t.find('{', pos);
    while (open != std::string::npos && open + 1 < t.size() && t[open + 1] != '{' && t[open + 1] != '%' &&
           t[open + 1] != '#')
      open = t.find('{', open + 1);
    if (open != std::string::npos && open + 1 >= t.size()) open = std::string::npos;
    std::string text = t.substr(pos, open == std::string::npos ? std::string::npos : open - pos);
    if (strip_next) {
      size_t i = 0;
      while (i < text.size() && isBlank(text[i])) ++i;
      text.erase(0, i);
    } else if (trim_newline && !text.empty() && text[0] == '\n') {
      text.erase(0, 1);
      line_starting = true;
    }
    if (open == std::string::npos) {
      if (!text.empty()) out.push_back({Segment::kText, text, pos});
      break;
    }
    const char kind = t[open + 1];
    const std::string close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
    size_t inner = open + 2;
    const bool strip_before = inner < t.size() && t[inner] == '-';
    if (inner < t.size() && (t[inner] == '-' || t[inner] == '+')) {
      if (t[inner] == '+') unsupported("{%+");
      ++inner;
    }
    const size_t end = t.find(close, inner);
    if (end == std::string::npos) syntaxError("'" + t.substr(open, 2) + "' is never closed", open);
    size_t inner_end = end;
    strip_next = inner_end > inner && t[inner_end - 1] == '-';
    if (strip_next) --inner_end;
    if (strip_before) {
      while (!text.empty() && isBlank(text.back())) text.pop_back();
    } else if (kind != '{') {
      // lstrip_blocks: spaces and tabs from the start of the line up to a block or comment tag.
      const size_t line = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
      if ((line > 0 || line_starting) && text.find_first_not_of(" \t", line) == std::string::npos) text.erase(line);
    }
    if (!text.empty()) out.push_back({Segment::kText, text, pos});
    if (kind != '#')
      out.push_back({kind == '{' ? Segment::kOutput : Segment::kStatement, t.substr(inner, inner_end - inner), open});
    trim_newline = kind != '{';
    line_starting = false;
    pos = end + 2;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tokens inside a tag

struct Token {
  enum Kind { kName, kString, kInteger, kOp, kEnd } kind;
  std::string text;
  size_t offset;
};

std::vector<Token> lexTag(const std::string& s, size_t base) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (isBlank(c)) {
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      out.push_back({Token::kName, s.substr(i, j - i), base + i});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      if (j < s.size() && s[j] == '.') unsupported("floating-point numbers");
      out.push_back({Token::kInteger, s.substr(i, j - i), base + i});
      i = j;
    } else if (c == '\'' || c == '"') {
      std::string text;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != c; ++j) {
        if (s[j] != '\\' || j + 1 >= s.size()) {
          text += s[j];
          continue;
        }
        const char e = s[++j];
        switch (e) {
          case 'n': text += '\n'; break;
          case 't': text += '\t'; break;
          case 'r': text += '\r'; break;
          case '\\': case '\'': case '"': text += e; break;
          default: text += '\\'; text += e;  // Python keeps unknown escapes as written
        }
      }
      if (j >= s.size()) syntaxError("a string literal is never closed", base + i);
      out.push_back({Token::kString, text, base + i});
      i = j + 1;
    } else {
      const std::string two = s.substr(i, 2);
      if (two == "==" || two == "!=" || two == "<=" || two == ">=" || two == "**" || two == "//") {
        out.push_back({Token::kOp, two, base + i});
        i += 2;
      } else if (std::string("()[].,|~+-*/%<>:={}").find(c) != std::string::npos) {
        out.push_back({Token::kOp, std::string(1, c), base + i});
        ++i;
      } else {
        syntaxError(std::string("unexpected character '") + c + "'", base + i);
      }
    }
  }
  out.push_back({Token::kEnd, "", base + s.size()});
  return out;
}

// ---------------------------------------------------------------------------------------------
// Expressions

struct Scope;

struct Expr {
  enum Kind { kLiteral, kName, kAttr, kIndex, kList, kUnary, kBinary, kFilter, kTest } kind;
  Value literal;
  std::string name;  // variable, attribute, operator, filter or test name
  std::vector<std::unique_ptr<Expr>> args;
  bool negate = false;  // `is not`, `not in`
};
using ExprPtr = std::unique_ptr<Expr>;

ExprPtr node(Expr::Kind kind, std::string name = {}) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->name = std::move(name);
  return e;
}

// Statement keywords and names the subset does not implement, refused by name.
const char* const kUnsupportedStatements[] = {"macro", "call", "filter", "block", "extends", "include", "import",
                                              "from", "raw", "with", "break", "continue", "generation", "do",
                                              "autoescape"};

class ExprParser {
 public:
  explicit ExprParser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  ExprPtr parse() { return parseOr(); }
  bool atEnd() const { return t_[i_].kind == Token::kEnd; }
  const Token& peek() const { return t_[i_]; }
  bool acceptName(const char* name) {
    if (t_[i_].kind == Token::kName && t_[i_].text == name) return ++i_, true;
    return false;
  }
  bool acceptOp(const char* op) {
    if (t_[i_].kind == Token::kOp && t_[i_].text == op) return ++i_, true;
    return false;
  }
  std::string expectName(const char* what) {
    if (t_[i_].kind != Token::kName) syntaxError(std::string("expected ") + what, t_[i_].offset);
    return t_[i_++].text;
  }
  void expectOp(const char* op) {
    if (!acceptOp(op)) syntaxError(std::string("expected '") + op + "'", t_[i_].offset);
  }
  void expectEnd() {
    if (!atEnd()) {
      const Token& k = t_[i_];
      if (k.kind == Token::kName && (k.text == "if" || k.text == "else")) unsupported("inline if-else expressions");
      if (k.kind == Token::kOp && k.text != ")" && k.text != "]") unsupported("the operator '" + k.text + "'");
      syntaxError("unexpected '" + k.text + "'", k.offset);
    }
  }

 private:
  ExprPtr binary(const std::string& op, ExprPtr a, ExprPtr b) {
    auto e = node(Expr::kBinary, op);
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }
  ExprPtr parseOr() {
    ExprPtr e = parseAnd();
    while (acceptName("or")) e = binary("or", std::move(e), parseAnd());
    return e;
  }
  ExprPtr parseAnd() {
    ExprPtr e = parseNot();
    while (acceptName("and")) e = binary("and", std::move(e), parseNot());
    return e;
  }
  ExprPtr parseNot() {
    if (acceptName("not")) {
      auto e = node(Expr::kUnary, "not");
      e->args.push_back(parseNot());
      return e;
    }
    return parseCompare();
  }
  ExprPtr parseCompare() {
    ExprPtr e = parseAdd();
    for (;;) {
      if (acceptOp("==")) {
        e = binary("==", std::move(e), parseAdd());
      } else if (acceptOp("!=")) {
        e = binary("!=", std::move(e), parseAdd());
      } else if (acceptName("in")) {
        e = binary("in", std::move(e), parseAdd());
      } else if (peek().kind == Token::kName && peek().text == "not" && t_[i_ + 1].kind == Token::kName &&
                 t_[i_ + 1].text == "in") {
        i_ += 2;
        e = binary("in", std::move(e), parseAdd());
        e->negate = true;
      } else {
        const Token& k = peek();
        if (k.kind == Token::kOp && (k.text == "<" || k.text == ">" || k.text == "<=" || k.text == ">="))
          unsupported("the comparison '" + k.text + "'");
        return e;
      }
    }
  }
  ExprPtr parseAdd() {
    ExprPtr e = parseConcat();
    while (acceptOp("+")) e = binary("+", std::move(e), parseConcat());
    const Token& k = peek();
    if (k.kind == Token::kOp && (k.text == "-" || k.text == "*" || k.text == "/" || k.text == "%" ||
                                 k.text == "**" || k.text == "//"))
      unsupported("the operator '" + k.text + "'");
    return e;
  }
  ExprPtr parseConcat() {
    ExprPtr e = parseTested();
    while (acceptOp("~")) e = binary("~", std::move(e), parseTested());
    return e;
  }
  // postfix [is [not] test]
  ExprPtr parseTested() {
    ExprPtr e = parsePostfix();
    if (acceptName("is")) {
      auto test = node(Expr::kTest);
      test->negate = acceptName("not");
      test->name = expectName("a test name after 'is'");
      if (test->name != "defined" && test->name != "none" && test->name != "string")
        unsupported("the test 'is " + test->name + "'");
      test->args.push_back(std::move(e));
      return test;
    }
    return e;
  }
  ExprPtr parsePostfix() {
    ExprPtr e = parsePrimary();
    for (;;) {
      if (acceptOp(".")) {
        auto a = node(Expr::kAttr, expectName("an attribute name after '.'"));
        if (peek().kind == Token::kOp && peek().text == "(") unsupported("." + a->name + "()");
        a->args.push_back(std::move(e));
        e = std::move(a);
      } else if (acceptOp("[")) {
        if (peek().kind == Token::kOp && peek().text == ":") unsupported("slices such as [1:]");
        auto a = node(Expr::kIndex);
        a->args.push_back(std::move(e));
        a->args.push_back(parseOr());
        if (peek().kind == Token::kOp && peek().text == ":") unsupported("slices such as [1:]");
        expectOp("]");
        e = std::move(a);
      } else if (acceptOp("|")) {
        auto f = node(Expr::kFilter, expectName("a filter name after '|'"));
        if (f->name != "trim" && f->name != "length") unsupported("the filter '" + f->name + "'");
        if (peek().kind == Token::kOp && peek().text == "(") unsupported("filter arguments in '" + f->name + "(...)'");
        f->args.push_back(std::move(e));
        e = std::move(f);
      } else if (peek().kind == Token::kOp && peek().text == "(") {
        unsupported(std::string(e->kind == Expr::kName ? e->name : "a call") + "()");
      } else {
        return e;
      }
    }
  }
  ExprPtr parsePrimary() {
    const Token k = t_[i_];
    if (k.kind == Token::kString) {
      ++i_;
      auto e = node(Expr::kLiteral);
      e->literal = makeString(k.text);
      while (t_[i_].kind == Token::kString) e->literal = makeString(*e->literal.string() + t_[i_++].text);
      return e;
    }
    if (k.kind == Token::kInteger) {
      ++i_;
      auto e = node(Expr::kLiteral);
      e->literal = Value{static_cast<int64_t>(std::stoll(k.text))};
      return e;
    }
    if (k.kind == Token::kName) {
      ++i_;
      const auto literal = [](Value v) {
        auto e = node(Expr::kLiteral);
        e->literal = std::move(v);
        return e;
      };
      if (k.text == "true" || k.text == "True") return literal(makeBool(true));
      if (k.text == "false" || k.text == "False") return literal(makeBool(false));
      if (k.text == "none" || k.text == "None") return literal(Value{None{}});
      return node(Expr::kName, k.text);
    }
    if (acceptOp("(")) {
      ExprPtr e = parseOr();
      if (peek().kind == Token::kOp && peek().text == ",") unsupported("tuples");
      expectOp(")");
      return e;
    }
    if (acceptOp("[")) {
      auto e = node(Expr::kList);
      if (!acceptOp("]")) {
        do e->args.push_back(parseOr());
        while (acceptOp(","));
        expectOp("]");
      }
      return e;
    }
    if (k.kind == Token::kOp && k.text == "{") unsupported("dictionary literals");
    if (k.kind == Token::kOp && k.text == "-") unsupported("negative numbers");
    syntaxError(k.kind == Token::kEnd ? "an expression is missing" : "unexpected '" + k.text + "'", k.offset);
  }

  std::vector<Token> t_;
  size_t i_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Statements

struct Node {
  enum Kind { kText, kOutput, kFor, kIf, kSet } kind;
  std::string text;                     // kText; kFor: loop variable; kSet: name
  ExprPtr expr;                         // kOutput, kFor (the list), kSet
  std::vector<ExprPtr> conditions;      // kIf: if, elif, ...
  std::vector<std::vector<Node>> bodies;  // kFor: one; kIf: one per condition, then else (optional)
};

class TemplateParser {
 public:
  explicit TemplateParser(std::vector<Segment> segments) : s_(std::move(segments)) {}

  std::vector<Node> parseAll() {
    std::vector<Node> body = parseBody({});
    if (i_ < s_.size()) syntaxError("'" + keyword_ + "' without its opening tag", s_[i_].offset);
    return body;
  }

 private:
  // Nodes up to one of `ends` (a statement keyword, left unconsumed in keyword_ / rest_).
  std::vector<Node> parseBody(const std::vector<std::string>& ends) {
    std::vector<Node> out;
    while (i_ < s_.size()) {
      const Segment& seg = s_[i_];
      if (seg.kind == Segment::kText) {
        out.push_back({Node::kText, seg.body, nullptr, {}, {}});
        ++i_;
        continue;
      }
      ExprParser p(lexTag(seg.body, seg.offset));
      if (seg.kind == Segment::kOutput) {
        Node n{Node::kOutput, "", p.parse(), {}, {}};
        p.expectEnd();
        out.push_back(std::move(n));
        ++i_;
        continue;
      }
      const std::string keyword = p.expectName("a statement such as for, if or set");
      for (const std::string& e : ends)
        if (keyword == e) {
          keyword_ = keyword;
          return out;
        }
      if (keyword == "endfor" || keyword == "endif" || keyword == "elif" || keyword == "else") {
        keyword_ = keyword;
        syntaxError("'" + keyword + "' without its opening tag", seg.offset);
      }
      for (const char* u : kUnsupportedStatements)
        if (keyword == u) unsupported(keyword);
      ++i_;
      if (keyword == "for") {
        Node n{Node::kFor, p.expectName("a loop variable after 'for'"), nullptr, {}, {}};
        if (p.acceptOp(",")) unsupported("for with several loop variables");
        if (!p.acceptName("in")) syntaxError("expected 'in' in the for tag", seg.offset);
        n.expr = p.parse();
        if (p.acceptName("if")) unsupported("for ... if filters");
        if (p.acceptName("recursive")) unsupported("recursive loops");
        p.expectEnd();
        n.bodies.push_back(parseBody({"endfor", "else"}));
        if (keyword_ == "else") unsupported("for ... else");
        closeTag("endfor", seg.offset);
        out.push_back(std::move(n));
      } else if (keyword == "if") {
        Node n{Node::kIf, "", nullptr, {}, {}};
        n.conditions.push_back(p.parse());
        p.expectEnd();
        for (;;) {
          n.bodies.push_back(parseBody({"elif", "else", "endif"}));
          if (i_ >= s_.size()) syntaxError("'if' is never closed with endif", seg.offset);
          ExprParser q(lexTag(s_[i_].body, s_[i_].offset));
          q.expectName("");
          ++i_;
          if (keyword_ == "elif") {
            n.conditions.push_back(q.parse());
            q.expectEnd();
          } else if (keyword_ == "else") {
            q.expectEnd();
            n.bodies.push_back(parseBody({"endif"}));
            closeTag("endif", seg.offset);
            break;
          } else {
            q.expectEnd();
            break;
          }
        }
        out.push_back(std::move(n));
      } else if (keyword == "set") {
        Node n{Node::kSet, p.expectName("a variable name after 'set'"), nullptr, {}, {}};
        if (p.acceptOp(".") || p.acceptOp("[")) unsupported("set on an attribute (namespace)");
        if (p.acceptOp(",")) unsupported("set with several names");
        if (!p.acceptOp("=")) unsupported("{% set %} blocks");
        n.expr = p.parse();
        p.expectEnd();
        out.push_back(std::move(n));
      } else {
        unsupported(keyword);
      }
    }
    for (const std::string& e : ends)
      if (e.rfind("end", 0) == 0) syntaxError("a tag is never closed with " + e, s_.empty() ? 0 : s_.back().offset);
    return out;
  }

  void closeTag(const char* keyword, size_t opened_at) {
    if (i_ >= s_.size() || keyword_ != keyword)
      syntaxError(std::string("the tag opened here is never closed with ") + keyword, opened_at);
    ExprParser q(lexTag(s_[i_].body, s_[i_].offset));
    q.expectName(keyword);
    q.expectEnd();
    ++i_;
  }

  std::vector<Segment> s_;
  size_t i_ = 0;
  std::string keyword_;
};

// ---------------------------------------------------------------------------------------------
// Rendering

struct Scope {
  std::vector<Map> frames;  // innermost last; a for loop iteration pushes one

  Value lookup(const std::string& name) const {
    for (auto it = frames.rbegin(); it != frames.rend(); ++it)
      if (const auto f = it->find(name); f != it->end()) return f->second;
    return Value{Undefined{}};
  }
};

std::string trimmed(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\n\r\f\v");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\n\r\f\v") - b + 1);
}

Value member(const Value& base, const Value& key, const std::string& shown) {
  if (base.isUndefined()) throw Error("chat template reads '" + shown + "' of an undefined value; pass a plain prompt without --chat");
  if (const Map* m = base.map()) {
    if (const std::string* k = key.string())
      if (const auto it = m->find(*k); it != m->end()) return it->second;
    return Value{Undefined{}};
  }
  if (const List* l = base.list()) {
    const int64_t* i = key.integer();
    if (!i) return Value{Undefined{}};
    const int64_t n = static_cast<int64_t>(l->size()), at = *i < 0 ? *i + n : *i;
    return at >= 0 && at < n ? (*l)[static_cast<size_t>(at)] : Value{Undefined{}};
  }
  return Value{Undefined{}};
}

Value evaluate(const Expr& e, const Scope& scope) {
  switch (e.kind) {
    case Expr::kLiteral:
      return e.literal;
    case Expr::kName:
      return scope.lookup(e.name);
    case Expr::kAttr:
      return member(evaluate(*e.args[0], scope), makeString(e.name), e.name);
    case Expr::kIndex: {
      const Value key = evaluate(*e.args[1], scope);
      return member(evaluate(*e.args[0], scope), key, "[" + key.text() + "]");
    }
    case Expr::kList: {
      auto l = std::make_shared<List>();
      for (const ExprPtr& a : e.args) l->push_back(evaluate(*a, scope));
      return Value{l};
    }
    case Expr::kUnary:
      return makeBool(!evaluate(*e.args[0], scope).truthy());
    case Expr::kTest: {
      const Value v = evaluate(*e.args[0], scope);
      const bool r = e.name == "defined" ? !v.isUndefined()
                     : e.name == "none"  ? std::holds_alternative<None>(v.v)
                                         : v.string() != nullptr;
      return makeBool(r != e.negate);
    }
    case Expr::kFilter: {
      const Value v = evaluate(*e.args[0], scope);
      if (e.name == "trim") return makeString(trimmed(v.text()));
      if (const std::string* s = v.string()) {
        // Python's len counts code points.
        int64_t n = 0;
        for (const char c : *s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        return Value{n};
      }
      if (const List* l = v.list()) return Value{static_cast<int64_t>(l->size())};
      if (const Map* m = v.map()) return Value{static_cast<int64_t>(m->size())};
      throw Error("chat template takes '| length' of a value that has none; pass a plain prompt without --chat");
    }
    case Expr::kBinary:
      break;
  }
  if (e.name == "and") {
    Value a = evaluate(*e.args[0], scope);
    return a.truthy() ? evaluate(*e.args[1], scope) : a;
  }
  if (e.name == "or") {
    Value a = evaluate(*e.args[0], scope);
    return a.truthy() ? a : evaluate(*e.args[1], scope);
  }
  const Value a = evaluate(*e.args[0], scope), b = evaluate(*e.args[1], scope);
  if (e.name == "==") return makeBool(equal(a, b));
  if (e.name == "!=") return makeBool(!equal(a, b));
  if (e.name == "~") return makeString(a.text() + b.text());
  if (e.name == "+") {
    if (a.string() && b.string()) return makeString(*a.string() + *b.string());
    if (a.integer() && b.integer()) return Value{*a.integer() + *b.integer()};
    throw Error("chat template adds values that are not two strings or two integers (an undefined variable?); "
                "pass a plain prompt without --chat");
  }
  // in
  bool found = false;
  if (const std::string* hay = b.string()) {
    const std::string* needle = a.string();
    if (!needle) throw Error("chat template tests 'in' a string with a value that is not a string; pass a plain prompt without --chat");
    found = hay->find(*needle) != std::string::npos;
  } else if (const List* l = b.list()) {
    for (const Value& x : *l) found = found || equal(a, x);
  } else if (const Map* m = b.map()) {
    found = a.string() && m->count(*a.string());
  } else {
    throw Error("chat template tests 'in' a value that is not a string, list or mapping; pass a plain prompt without --chat");
  }
  return makeBool(found != e.negate);
}

void render(const std::vector<Node>& nodes, Scope& scope, std::string& out) {
  for (const Node& n : nodes) {
    switch (n.kind) {
      case Node::kText:
        out += n.text;
        break;
      case Node::kOutput:
        out += evaluate(*n.expr, scope).text();
        break;
      case Node::kSet:
        scope.frames.back()[n.text] = evaluate(*n.expr, scope);
        break;
      case Node::kIf:
        for (size_t i = 0; i < n.bodies.size(); ++i) {
          if (i < n.conditions.size() && !evaluate(*n.conditions[i], scope).truthy()) continue;
          render(n.bodies[i], scope, out);
          break;
        }
        break;
      case Node::kFor: {
        const Value list = evaluate(*n.expr, scope);
        std::vector<Value> items;
        if (const List* l = list.list()) {
          items = *l;
        } else if (const Map* m = list.map()) {
          for (const auto& [k, v] : *m) items.push_back(makeString(k));
        } else if (!list.isUndefined()) {
          throw Error("chat template loops over a value that is not a list; pass a plain prompt without --chat");
        }
        const auto count = static_cast<int64_t>(items.size());
        for (int64_t i = 0; i < count; ++i) {
          auto loop = std::make_shared<Map>();
          (*loop)["index"] = Value{i + 1};
          (*loop)["index0"] = Value{i};
          (*loop)["revindex"] = Value{count - i};
          (*loop)["revindex0"] = Value{count - i - 1};
          (*loop)["first"] = makeBool(i == 0);
          (*loop)["last"] = makeBool(i + 1 == count);
          (*loop)["length"] = Value{count};
          scope.frames.push_back({{"loop", Value{loop}}, {n.text, items[static_cast<size_t>(i)]}});
          render(n.bodies[0], scope, out);
          scope.frames.pop_back();
        }
        break;
      }
    }
  }
}

}  // namespace

std::string applyChatTemplate(const std::string& tmpl, const std::vector<ChatMessage>& messages,
                              bool add_generation_prompt, const std::string& bos, const std::string& eos) {
  // Jinja drops one newline at the end of the template (keep_trailing_newline off).
  const bool trailing_newline = !tmpl.empty() && tmpl.back() == '\n';
  const std::vector<Node> program =
      TemplateParser(lexTemplate(trailing_newline ? tmpl.substr(0, tmpl.size() - 1) : tmpl)).parseAll();
  auto list = std::make_shared<List>();
  for (const ChatMessage& m : messages) {
    auto message = std::make_shared<Map>();
    (*message)["role"] = makeString(m.role);
    (*message)["content"] = makeString(m.content);
    list->push_back(Value{message});
  }
  Scope scope;
  scope.frames.push_back({{"messages", Value{list}},
                          {"add_generation_prompt", makeBool(add_generation_prompt)},
                          {"bos_token", makeString(bos)},
                          {"eos_token", makeString(eos)}});
  std::string out;
  render(program, scope, out);
  return out;
}

ChatTemplateConfig readChatTemplateConfig(const std::string& tokenizer_path) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::is_directory(tokenizer_path) ? fs::path(tokenizer_path) : fs::path(tokenizer_path).parent_path();
  const fs::path path = dir / "tokenizer_config.json";
  ChatTemplateConfig out;
  if (!fs::is_regular_file(path)) return out;
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json c = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  require(c.is_object(), "tokenizer config '" + path.string() + "' is not a JSON object; re-download or regenerate it");
  // bos_token / eos_token: a string or an AddedToken object {"content": ...}.
  const auto token = [&](const char* key) -> std::string {
    const auto it = c.find(key);
    if (it == c.end()) return "";
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"];
    return "";
  };
  out.bos_token = token("bos_token");
  out.eos_token = token("eos_token");
  if (const auto it = c.find("chat_template"); it != c.end()) {
    if (it->is_string()) {
      out.chat_template = it->get<std::string>();
    } else if (it->is_array()) {
      for (const auto& named : *it)
        if (named.is_object() && named.value("name", std::string()) == "default" && named.contains("template") &&
            named["template"].is_string())
          out.chat_template = named["template"].get<std::string>();
    }
  }
  return out;
}

}  // namespace slmc

// Declared pass options, MLIR-style: a pass declares each option as a member next to its help
// text and default,
//
//   Option<int64_t> bits{*this, "bits", "weight bit width", 4};
//   Option<std::string> observer{*this, "observer", "how weight grids are fit", "minmax"};
//   RtnPass() : Pass("rtn", "…") { bits.choices({2, 3, 4, 8}); observer.choices({"minmax", "mse"}); }
//
// so parsing, validation, the `slmc passes` listing and the provenance JSON all read the same
// declarations and cannot drift apart. Values arrive as text (key/value strings from the pipeline
// text or a recipe, see pipeline.h) and are parsed once here into typed members; the pass's
// run() only reads typed values.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "lib/support/closest_match.h"
#include "lib/support/error.h"

namespace slmc {

// The value of a list option: `keep={lm_head,embed}` in text, `keep: [lm_head, embed]` in YAML.
using OptionList = std::vector<std::string>;
// Option assignments in the order written. A list value is in its text form ("{a,b}").
using OptionAssignments = std::vector<std::pair<std::string, std::string>>;

class PassOptions;

// What every declared option can do without its C++ type being known: parse its text form,
// print itself and serialise its value.
class OptionBase {
 public:
  OptionBase(const OptionBase&) = delete;
  OptionBase& operator=(const OptionBase&) = delete;
  virtual ~OptionBase() = default;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  // True when the value was given (pipeline text, recipe or setValue), false when it is the default.
  bool isSet() const { return set_; }

  virtual const char* typeName() const = 0;  // "bool", "int", "float", "string", "list"
  virtual std::string defaultText() const = 0;
  virtual std::string valueText() const = 0;  // the current value as pipeline text would write it
  // "one of: 2, 3, 4, 8", "range: [0, 1]", or "" when any value of the type is accepted.
  virtual std::string constraintText() const = 0;
  virtual nlohmann::json valueJson() const = 0;
  // The accepted values as text ({"2", "3", "4", "8"}; for a list, its accepted elements), or
  // empty when any value of the type is accepted.
  virtual std::vector<std::string> choiceTexts() const = 0;

 protected:
  OptionBase(PassOptions& owner, std::string name, std::string help);
  void markSet() { set_ = true; }
  // Throws Error "option 'bits' of pass 'quantize': <problem>".
  [[noreturn]] void fail(const std::string& problem) const;
  // Throws Error for a mistake in the pass's own declarations (a bug, not a user error).
  [[noreturn]] void failInternal(const std::string& problem) const;

 private:
  friend class PassOptions;
  // Sets the value from its text form; throws Error through fail() when it is rejected.
  virtual void parseText(const std::string& text) = 0;

  const PassOptions* owner_;
  std::string name_;
  std::string help_;
  bool set_ = false;
};

namespace detail {

// Text ↔ value for each supported option type. Parse errors hold only the problem
// ("'x' is not an integer"); the option adds its name and its pass.
template <typename T>
struct OptionCodec;

template <>
struct OptionCodec<bool> {
  using Element = bool;
  static constexpr const char* kTypeName = "bool";
  static bool parse(const std::string& text);
  static std::string format(bool value);
};
template <>
struct OptionCodec<int64_t> {
  using Element = int64_t;
  static constexpr const char* kTypeName = "int";
  static int64_t parse(const std::string& text);
  static std::string format(int64_t value);
};
template <>
struct OptionCodec<double> {
  using Element = double;
  static constexpr const char* kTypeName = "float";
  static double parse(const std::string& text);
  static std::string format(double value);  // shortest text that reads back to the same double
};
template <>
struct OptionCodec<std::string> {
  using Element = std::string;
  static constexpr const char* kTypeName = "string";
  static std::string parse(const std::string& text) { return text; }
  static std::string format(const std::string& value) { return value; }
};
template <>
struct OptionCodec<OptionList> {
  using Element = std::string;  // choices constrain each element
  static constexpr const char* kTypeName = "list";
  static OptionList parse(const std::string& text);  // "{a,b}", or a bare scalar as a one-element list
  static std::string format(const OptionList& value);
};

// "a, b, c" for choice listings.
template <typename E>
std::string joinFormatted(const std::vector<E>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + OptionCodec<E>::format(items[i]);
  return out;
}

}  // namespace detail

// One typed option of a pass. Constraints (choices, range, check) are declared in the pass's
// constructor and apply to every value set afterwards.
template <typename T>
class Option : public OptionBase {
  using Codec = detail::OptionCodec<T>;
  using Element = typename Codec::Element;

 public:
  Option(PassOptions& owner, std::string name, std::string help, T default_value = T{})
      : OptionBase(owner, std::move(name), std::move(help)),
        default_(default_value),
        value_(std::move(default_value)) {}

  const T& value() const { return value_; }
  const T& defaultValue() const { return default_; }
  operator const T&() const { return value_; }
  const T& operator*() const { return value_; }
  const T* operator->() const { return &value_; }
  // `method == "gptq"`, `bits != 8`: compare the value without spelling *option.
  template <typename U>
  friend bool operator==(const Option& option, const U& other) {
    return option.value_ == other;
  }
  template <typename U>
  friend bool operator!=(const Option& option, const U& other) {
    return !(option.value_ == other);
  }

  // Accepted values (for a list: accepted elements).
  Option& choices(std::vector<Element> allowed) {
    choices_ = std::move(allowed);
    requireDefaultAccepted();
    return *this;
  }
  // Inclusive bounds (numbers only).
  Option& range(T lo, T hi) {
    static_assert(std::is_same_v<T, int64_t> || std::is_same_v<T, double>, "range() is for int and float options");
    has_range_ = true;
    lo_ = lo;
    hi_ = hi;
    requireDefaultAccepted();
    return *this;
  }
  // A custom rule: `problem(value)` returns "" when the value is fine, else what is wrong with it
  // ("'100' is not a multiple of 32").
  Option& check(std::function<std::string(const T&)> problem) {
    check_ = std::move(problem);
    requireDefaultAccepted();
    return *this;
  }

  // A default of its own for a pass that shares the declaration with others (smoothquant's
  // bits=8 where the weight-quantization block says 4). Before any value is set.
  Option& defaultTo(T value) {
    if (isSet()) failInternal("defaultTo after a value was set");
    default_ = value;
    value_ = std::move(value);
    requireDefaultAccepted();
    return *this;
  }

  // Sets the value from code (as if written explicitly); throws Error when a constraint rejects it.
  void setValue(T value) {
    const std::string why = problemWith(value);
    if (!why.empty()) fail(why);
    value_ = std::move(value);
    markSet();
  }

  const char* typeName() const override { return Codec::kTypeName; }
  std::string defaultText() const override { return Codec::format(default_); }
  std::string valueText() const override { return Codec::format(value_); }
  std::string constraintText() const override {
    std::string text;
    if (!choices_.empty()) text = "one of: " + detail::joinFormatted(choices_);
    if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) {
      if (has_range_)
        text += (text.empty() ? "" : "; ") + ("range: [" + Codec::format(lo_) + ", " + Codec::format(hi_) + "]");
    }
    return text;
  }
  nlohmann::json valueJson() const override { return nlohmann::json(value_); }
  std::vector<std::string> choiceTexts() const override {
    std::vector<std::string> texts;
    for (const Element& c : choices_) texts.push_back(detail::OptionCodec<Element>::format(c));
    return texts;
  }

 private:
  void parseText(const std::string& text) override {
    T parsed{};
    try {
      parsed = Codec::parse(text);
    } catch (const Error& e) {
      fail(e.what());
    }
    setValue(std::move(parsed));
  }

  // "" when `value` satisfies every constraint, else the problem.
  std::string problemWith(const T& value) const {
    if (!choices_.empty()) {
      if constexpr (std::is_same_v<T, OptionList>) {
        for (const std::string& item : value)
          if (!isChoice(item)) return "'" + item + "' is not one of " + detail::joinFormatted(choices_);
      } else if (!isChoice(value)) {
        return "'" + Codec::format(value) + "' is not one of " + detail::joinFormatted(choices_);
      }
    }
    if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) {
      if (has_range_ && !(value >= lo_ && value <= hi_))
        return "'" + Codec::format(value) + "' is outside the range [" + Codec::format(lo_) + ", " +
               Codec::format(hi_) + "]";
    }
    return check_ ? check_(value) : std::string();
  }
  bool isChoice(const Element& e) const {
    for (const Element& c : choices_)
      if (c == e) return true;
    return false;
  }
  // A default that its own constraints reject is a bug in the pass, caught when it is declared.
  void requireDefaultAccepted() const {
    const std::string why = problemWith(default_);
    if (!why.empty()) failInternal("its default breaks its own constraint: " + why);
  }

  T default_;
  T value_;
  std::vector<Element> choices_;
  bool has_range_ = false;
  T lo_{}, hi_{};
  std::function<std::string(const T&)> check_;
};

// The options a pass declares, in declaration order. A Pass is a PassOptions (pass.h); tests may
// declare an option set on its own.
class PassOptions {
 public:
  // `owner` names the pass in error messages ("option 'bits' of pass 'quantize': …").
  explicit PassOptions(std::string owner) : owner_(std::move(owner)) {}
  PassOptions(const PassOptions&) = delete;  // options point back at their set
  PassOptions& operator=(const PassOptions&) = delete;
  virtual ~PassOptions() = default;

  const std::string& ownerName() const { return owner_; }
  // The name errors call the pass by: its own, or the family name it was written as
  // (quantize(method=gptq,damp=x) runs gptq, but the user wrote 'quantize').
  const std::string& spelledName() const { return spelled_.empty() ? owner_ : spelled_; }
  void setSpelledName(std::string name) { spelled_ = std::move(name); }

  // Applies `assignments` in order. Throws Error naming the option and the fix for an unknown
  // option, an option given twice or a value its type or constraints reject.
  void parseOptions(const OptionAssignments& assignments);

  const std::vector<OptionBase*>& options() const { return options_; }
  const OptionBase* findOption(const std::string& name) const;  // null when not declared
  std::vector<std::string> optionNames() const;
  // Whether option `name` was given explicitly (throws Error when no such option is declared).
  bool isSet(const std::string& name) const;

  // Every option's current value, explicit or default: {"bits": 4, "keep": ["lm_head"], …}.
  nlohmann::json optionsJson() const;
  // The explicitly set options as text assignments, in declaration order.
  OptionAssignments explicitOptions() const;
  // One line per option for `slmc passes`: name=<type>, help, default and constraints.
  std::string describeOptions(const std::string& indent = "  ") const;

 private:
  friend class OptionBase;
  std::string owner_;
  std::string spelled_;
  std::vector<OptionBase*> options_;
};


}  // namespace slmc

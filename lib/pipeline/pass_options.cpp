#include "lib/pipeline/pass_options.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>

#include "lib/pipeline/pipeline.h"
#include "lib/support/join_text.h"

namespace slmc {

namespace {

// Option names are what users type in pipelines and recipes: keep them to one simple shape.
bool isOptionName(const std::string& name) {
  if (name.empty() || !(std::islower(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}

// How a value is shown in listings: exactly what one would type in a pipeline.
std::string displayText(const OptionBase& option, const std::string& text) {
  return std::string(option.typeName()) == "list" ? text : scalarText(text);
}


}  // namespace

// ---- codecs ----

namespace detail {

bool OptionCodec<bool>::parse(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  throw Error("'" + text + "' is not a boolean (use true or false)");
}
std::string OptionCodec<bool>::format(bool value) { return value ? "true" : "false"; }

int64_t OptionCodec<int64_t>::parse(const std::string& text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc::result_out_of_range) throw Error("'" + text + "' is too large for an integer");
  if (text.empty() || ec != std::errc() || ptr != end) throw Error("'" + text + "' is not an integer");
  return value;
}
std::string OptionCodec<int64_t>::format(int64_t value) { return std::to_string(value); }

double OptionCodec<double>::parse(const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) throw Error("'" + text + "' is not a number");
  if (!std::isfinite(value)) throw Error("'" + text + "' is not a finite number");
  return value;
}
std::string OptionCodec<double>::format(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);  // shortest round trip
  return std::string(buffer, result.ptr);
}

OptionList OptionCodec<OptionList>::parse(const std::string& text) { return parseListValue(text); }
std::string OptionCodec<OptionList>::format(const OptionList& value) { return listValueText(value); }

}  // namespace detail

// ---- OptionBase ----

OptionBase::OptionBase(PassOptions& owner, std::string name, std::string help)
    : owner_(&owner), name_(std::move(name)), help_(std::move(help)) {
  if (!isOptionName(name_)) failInternal("option names are lower_case_with_underscores");
  if (owner.findOption(name_) != nullptr) failInternal("declared twice");
  owner.options_.push_back(this);
}

void OptionBase::fail(const std::string& problem) const {
  throw Error("option '" + name_ + "' of pass '" + owner_->spelledName() + "': " + problem);
}

void OptionBase::failInternal(const std::string& problem) const {
  throw Error("internal: option '" + name_ + "' of pass '" + owner_->ownerName() + "': " + problem);
}

// ---- PassOptions ----

void PassOptions::parseOptions(const OptionAssignments& assignments) {
  std::set<std::string> seen;
  for (const auto& [name, text] : assignments) {
    OptionBase* option = nullptr;
    for (OptionBase* o : options_)
      if (o->name() == name) option = o;
    if (option == nullptr) {
      std::string message = "unknown option '" + name + "' for pass '" + spelledName() + "' (";
      message += options_.empty() ? "it takes no options" : "options: " + joinText(optionNames());
      const std::string guess = closestMatch(name, optionNames());
      if (!guess.empty()) message += "; did you mean '" + guess + "'?";
      throw Error(message + ")");
    }
    require(seen.insert(name).second,
            "option '" + name + "' of pass '" + spelledName() + "' is given twice: keep one value");
    option->parseText(text);
  }
}

const OptionBase* PassOptions::findOption(const std::string& name) const {
  for (const OptionBase* o : options_)
    if (o->name() == name) return o;
  return nullptr;
}

std::vector<std::string> PassOptions::optionNames() const {
  std::vector<std::string> names;
  for (const OptionBase* o : options_) names.push_back(o->name());
  return names;
}

bool PassOptions::isSet(const std::string& name) const {
  const OptionBase* option = findOption(name);
  require(option != nullptr, "internal: pass '" + owner_ + "' has no option '" + name + "'");
  return option->isSet();
}

nlohmann::json PassOptions::optionsJson() const {
  nlohmann::json j = nlohmann::json::object();
  for (const OptionBase* o : options_) j[o->name()] = o->valueJson();
  return j;
}

OptionAssignments PassOptions::explicitOptions() const {
  OptionAssignments out;
  for (const OptionBase* o : options_)
    if (o->isSet()) out.emplace_back(o->name(), o->valueText());
  return out;
}

std::string PassOptions::describeOptions(const std::string& indent) const {
  std::vector<std::string> heads;
  size_t width = 0;
  for (const OptionBase* o : options_) {
    heads.push_back(o->name() + "=<" + o->typeName() + ">");
    width = std::max(width, heads.back().size());
  }
  std::string out;
  for (size_t i = 0; i < options_.size(); ++i) {
    const OptionBase& o = *options_[i];
    std::string details = "default: " + displayText(o, o.defaultText());
    if (!o.constraintText().empty()) details += "; " + o.constraintText();
    out += indent + heads[i] + std::string(width - heads[i].size() + 2, ' ') + o.help() + " [" + details + "]\n";
  }
  return out;
}


}  // namespace slmc

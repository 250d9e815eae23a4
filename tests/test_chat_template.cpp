// applyChatTemplate against Python jinja2's renderings (scripts/make_chat_template_fixtures.py:
// SmolLM2's, Qwen2's, a Llama-2 [INST], Zephyr's and Llama-3's templates, and one that exercises
// the rest of the subset), and the refusals of what the subset does not implement.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "datasets/chat_template.h"
#include "lib/support/error.h"
#include "tests/test_support.h"

using namespace slmc;

namespace {

std::string render(const std::string& tmpl, bool gen = false) {
  return applyChatTemplate(tmpl, {{"user", "hi"}}, gen, "<s>", "</s>");
}

void checkRefused(const std::string& tmpl, const std::string& construct) {
  CHECK_THROWS_WITH_AS(render(tmpl),
                       ("chat template uses '" + construct +
                        "', which slmc does not implement; pass a plain prompt without --chat")
                           .c_str(),
                       Error);
}

}  // namespace

TEST_CASE("chat template: renders as Python jinja2 does (SmolLM2, Qwen2, Llama 2, Zephyr, Llama 3, features)") {
  const nlohmann::json golden = test::readJson(test::fixture("chat_templates/goldens.json"));
  size_t checked = 0;
  for (const auto& c : golden["cases"]) {
    const auto& t = golden["templates"][c["template"].get<std::string>()];
    std::vector<ChatMessage> messages;
    for (const auto& m : golden["conversations"][c["conversation"].get<std::string>()])
      messages.push_back({m["role"], m["content"]});
    CAPTURE(c["template"].get<std::string>());
    CAPTURE(c["conversation"].get<std::string>());
    CAPTURE(c["add_generation_prompt"].get<bool>());
    CHECK(applyChatTemplate(t["template"], messages, c["add_generation_prompt"], t["bos_token"], t["eos_token"]) ==
          c["expected"].get<std::string>());
    ++checked;
  }
  CHECK(checked == 36);
}

TEST_CASE("chat template: whitespace control and Jinja's trim_blocks / lstrip_blocks") {
  CHECK(render("a  {%- if true -%}  b  {%- endif -%}  c") == "abc");
  CHECK(render("a\n  {% if true %}\nb\n  {% endif %}\nc") == "a\nb\nc");
  CHECK(render("x {% if true %}y{% endif %}") == "x y");  // not at a line start: kept
  CHECK(render("{{ 'a' }}  \n{{- 'b' }}") == "ab");
  CHECK(render("{# note #}\nx") == "x");
}

TEST_CASE("chat template: expressions") {
  CHECK(render("{{ messages[0].role ~ ':' ~ messages[0]['content'] }}") == "user:hi");

}

TEST_CASE("chat template: constructs outside the subset are refused by name") {
  checkRefused("{% macro f() %}{% endmacro %}", "macro");
  checkRefused("{{ raise_exception('no') }}", "raise_exception()");
  checkRefused("{{ messages[0]['content'].strip() }}", ".strip()");
  checkRefused("{% for m in messages[1:] %}{% endfor %}", "slices such as [1:]");
  checkRefused("{{ messages | tojson }}", "the filter 'tojson'");
  checkRefused("{{ loop.index0 % 2 }}", "the operator '%'");
  checkRefused("{% for m in messages %}{% else %}{% endfor %}", "for ... else");
  checkRefused("{% set ns.x = 1 %}", "set on an attribute (namespace)");
  checkRefused("{% if messages | length > 1 %}{% endif %}", "the comparison '>'");
  checkRefused("{{ x is string_like }}", "the test 'is string_like'");
  checkRefused("{{ 'a' if true else 'b' }}", "inline if-else expressions");
  // Meta's own Llama 2 template: the first construct outside the subset is named.
  checkRefused("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% endif %}",
               "slices such as [1:]");
}

TEST_CASE("chat template: syntax errors name the place") {
  CHECK_THROWS_WITH_AS(render("{% if true %}x"), doctest::Contains("never closed with endif"), Error);
  CHECK_THROWS_WITH_AS(render("{{ 'a' "), doctest::Contains("'{{' is never closed"), Error);
  CHECK_THROWS_WITH_AS(render("x{% endfor %}"), doctest::Contains("'endfor' without its opening tag"), Error);
  CHECK_THROWS_WITH_AS(render("{{ 'abc }}"), doctest::Contains("string literal is never closed"), Error);
  CHECK_THROWS_WITH_AS(render("{{ undefined_thing.role }}"), doctest::Contains("undefined value"), Error);
}

// docs/language.md must list exactly the compiler's builtins.
#include "act/Parse/Builtins.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

TEST_CASE("language reference lists every builtin and nothing else", "[docs]") {
  std::ifstream in(ACT_DOCS_DIR "/language.md");
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  // The builtin table: rows starting with "| `name(".
  std::string table = text.substr(text.find("## Builtin functions"));
  table = table.substr(0, table.find("\n## ", 3));
  std::set<std::string> documented;
  std::regex call("`([a-z_0-9]+)\\(");
  for (auto it = std::sregex_iterator(table.begin(), table.end(), call);
       it != std::sregex_iterator(); ++it)
    documented.insert((*it)[1]);
  std::set<std::string> builtins;
  for (const act::Builtin &b : act::kBuiltins)
    builtins.insert(std::string(b.name));
  for (const std::string &b : builtins) {
    INFO("builtin missing from docs/language.md: " << b);
    CHECK(documented.count(b) == 1);
  }
  for (const std::string &d : documented) {
    INFO("docs/language.md documents an unknown builtin: " << d);
    CHECK(builtins.count(d) == 1);
  }
}

// A short activation search with the act::search API: screen the one-unit Swish
// space, then train the first few survivors and the swish baseline on a slice of
// Fashion-MNIST and print them ranked by validation accuracy.
//
//   ./build/bin/act-search-example [CANDIDATES_TO_TRAIN]
#include <act/search.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace s = act::search;

int main(int argc, char **argv) {
  size_t toTrain = argc > 1 ? (size_t)std::atol(argv[1]) : 4;
  try {
    s::Space space = s::Space::swish();
    s::Screener screener;
    std::vector<s::Screened> screened = screener.screen(s::enumerate(space, 1));
    std::vector<s::Screened> ok;
    for (const s::Screened &r : screened)
      if (r.verdict == s::Verdict::Ok)
        ok.push_back(r);
    const s::ScreenStats &st = screener.stats();
    std::printf("screened %zu candidates (%zu compiled): %zu pass; parse %.1f s, "
                "JIT %.1f s, probes %.1f s\n",
                st.candidates, st.compiled, ok.size(), st.parseSeconds, st.jitSeconds,
                st.probeSeconds);

    if (!s::haveData(s::defaultDataDir())) {
      std::printf("no Fashion-MNIST in %s: not training\n", s::defaultDataDir().c_str());
      return 0;
    }
    s::ProxyData data = s::ProxyData::load(s::defaultDataDir(), 6000, 10000);
    std::string source = "act swish(x; beta = 1.0) = x * sigmoid(beta * x)\n";
    std::vector<std::string> names = {"swish"}, formulas = {"swish (baseline)"};
    for (size_t i = 0; i < ok.size() && i < toTrain; ++i) {
      names.push_back("c" + std::to_string(i));
      formulas.push_back(ok[i].canonical);
      source += s::definition(names.back(), ok[i].candidate);
    }
    act::Module m = act::Module::compile(source, "<search>");
    m.compileKernels(act::DType::F32, names); // every candidate in one JIT unit
    std::vector<std::pair<double, std::string>> ranked;
    for (size_t i = 0; i < names.size(); ++i) {
      s::TrainResult t = s::train(m.get(names[i]), data, s::TrainOptions{});
      ranked.emplace_back(t.diverged ? -1 : t.validationAccuracy, formulas[i]);
    }
    std::sort(ranked.rbegin(), ranked.rend());
    for (const auto &[acc, formula] : ranked)
      std::printf("%8.4f  %s\n", acc, formula.c_str());
  } catch (const act::Error &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

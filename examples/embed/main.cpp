// Embedding act: compile ACON-C from text, list what a host framework needs to create
// its parameter tensors, run it over a channels-first tensor, and show a compile error
// coming back as data.
#include <act/act.h>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  const char *source = R"(
# ACON-C with per-channel p1, p2 and beta
act acon_c(x; p1[C] = 1.0, p2[C] = 0.0, beta[C] = 1.0) = smooth_max(p1 * x, p2 * x; beta)
)";
  act::Module module = act::Module::compile(source, "acon.act");
  const act::Activation &acon = module.get("acon_c");

  std::printf("%s: inputs", acon.name().c_str());
  for (const std::string &in : acon.inputs())
    std::printf(" %s", in.c_str());
  std::printf("\n");
  act::TensorShape shape{/*n=*/2, /*c=*/3, /*s=*/4, act::Layout::NCS};
  for (const act::ParamInfo &p : acon.params())
    std::printf("  param %-5s shape %-5s init %g learnable %s -> %lld values\n",
                p.name.c_str(), p.shape().c_str(), p.init.empty() ? NAN : p.init[0],
                p.isConst ? "no" : "yes", (long long)p.numValues(shape));

  // Caller-owned buffers: x, y and one tensor per parameter.
  std::vector<float> x(shape.numElements()), y(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = -3.0f + 0.25f * float(i);
  std::vector<float> p1 = {1.0f, 1.0f, 2.0f}, p2 = {0.0f, 0.25f, 0.0f},
                     beta = {1.0f, 1.0f, 10.0f};
  const float *inputs[] = {x.data()};
  const float *params[] = {p1.data(), p2.data(), beta.data()};
  acon.forward(shape, inputs, y.data(), params);

  double worst = 0;
  for (int64_t n = 0; n < shape.n; ++n)
    for (int64_t c = 0; c < shape.c; ++c)
      for (int64_t s = 0; s < shape.s; ++s) {
        size_t i = size_t((n * shape.c + c) * shape.s + s);
        double d = (p1[c] - p2[c]) * x[i];
        double ref = d / (1 + std::exp(-beta[c] * d)) + p2[c] * x[i];
        worst = std::fmax(worst, std::fabs(ref - y[i]));
      }
  std::printf("acon_c over %lld elements, max |error| vs double: %.3g\n",
              (long long)shape.numElements(), worst);

  // Errors come back as structured diagnostics.
  try {
    act::Module::compile("act bad(x; beta = 1.0) = x * sigmod(beta * x)", "bad.act");
  } catch (const act::CompileError &e) {
    const act::Diagnostic &d = e.diagnostics().front();
    std::printf("caught: %s:%u:%u: %s\n", d.file.c_str(), d.line, d.column,
                d.message.c_str());
  }
  return worst < 1e-5 ? 0 : 1;
}

// The Halide peer of actc bench: the seeds' formulas as Halide 14 Funcs, JIT-compiled
// once per activation (outside the timings). Forward: vectorised at the host's natural
// vector size and parallel over rows. Backward: Halide's own reverse-mode autodiff
// (propagate_adjoints) with every adjoint Func compute_root, vectorised and parallel
// where Halide can prove it safe.
#include "Peers.h"

#include <Halide.h>

#include <chrono>
#include <cstdlib>
#include <functional>

namespace actbench {
namespace {

using namespace Halide;

/// A float buffer of the caller's, seen by Halide with `sizes` (innermost first).
Buffer<float> wrap(const float *data, std::vector<int> sizes) {
  return Buffer<float>(const_cast<float *>(data), sizes);
}

Expr sigmoid(Expr z) { return 1.0f / (1.0f + exp(-z)); }

/// erf by Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7): Halide 14 has no erf.
Expr erfApprox(Expr z) {
  Expr az = select(z < 0, -z, z);
  Expr t = 1.0f / (1.0f + 0.3275911f * az);
  Expr poly =
      t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f +
                                                     t * (-1.453152027f + t * 1.061405429f))));
  Expr e = 1.0f - poly * exp(-az * az);
  return select(z < 0, -e, e);
}

class HalideKernel : public Kernel {
public:
  HalideKernel(const std::string &fn, const Problem &p, double *compileMs) : p(p) {
    int n = (int)p.n, c = (int)p.c, s = (int)p.s;
    std::vector<int> dims = p.channelsLast ? std::vector<int>{c, s, n}
                                           : std::vector<int>{s, c, n};
    xb = wrap(p.x, dims);
    yb = wrap(p.y, dims);
    dyb = wrap(p.dy, dims);
    dxb = wrap(p.dx, dims);
    Var a("a"), b("b"), nv("n");
    Expr ch = p.channelsLast ? Expr(a) : Expr(b);
    Expr x = xb(a, b, nv);
    // Each parameter is read through a Func over (channel[, sample]), so that its
    // adjoint is a per-channel reduction Halide can run in parallel; the buffer's own
    // adjoint then sums that over channels where the parameter is a scalar.
    std::vector<int> shape;
    auto param = [&](size_t k, std::vector<int> sizes, std::function<Expr(Var)> def) {
      pb.push_back(wrap(p.params[k], sizes));
      dpb.push_back(wrap(p.dparams[k], sizes));
      Func f("param" + std::to_string(k));
      Var cv("cv");
      f(cv) = def(cv);
      pf.push_back(f);
    };
    Expr value;
    if (fn == "swish") {
      param(0, {1}, [&](Var) { return pb[0](0); });
      value = x * sigmoid(pf[0](ch) * x);
    } else if (fn == "acon_c" || fn == "meta_acon_c") {
      param(0, {c}, [&](Var cv) { return pb[0](cv); });
      param(1, {c}, [&](Var cv) { return pb[1](cv); });
      Expr p1 = pf[0](ch), p2 = pf[1](ch), beta;
      if (fn == "acon_c") {
        param(2, {c}, [&](Var cv) { return pb[2](cv); });
        beta = pf[2](ch);
      } else { // beta[N,C]: a Func over (channel, sample)
        pb.push_back(wrap(p.params[2], {c, n}));
        dpb.push_back(wrap(p.dparams[2], {c, n}));
        Func f("param2");
        Var cv("cv"), nn("nn");
        f(cv, nn) = pb[2](cv, nn);
        pf.push_back(f);
        beta = f(ch, nv);
      }
      Expr d = (p1 - p2) * x;
      value = d * sigmoid(beta * d) + p2 * x;
    } else if (fn == "pwlu") {
      pb.push_back(wrap(p.params[0], {17, c}));
      dpb.push_back(wrap(p.dparams[0], {17, c}));
      Func table("table");
      Var kv("kv"), cv("cv");
      table(kv, cv) = pb[0](kv, cv);
      pf.push_back(table);
      for (size_t k = 1; k < 5; ++k)
        param(k, {c}, [&, k](Var v) { return pb[k](v); });
      Expr bl = pf[1](ch), br = pf[2](ch), kl = pf[3](ch), kr = pf[4](ch);
      Expr u = (x - bl) / ((br - bl) / 16.0f);
      Expr i = clamp(cast<int>(floor(u)), 0, 15);
      Expr t = u - cast<float>(i);
      Expr lo = table(i, ch), hi = table(i + 1, ch);
      value = select(x < bl, table(0, ch) + kl * (x - bl),
                     select(x > br, table(16, ch) + kr * (x - br), lo + t * (hi - lo)));
    } else if (fn == "mish") {
      value = x * tanh(log(1.0f + exp(x)));
    } else if (fn == "gelu_") {
      value = 0.5f * x * (1.0f + erfApprox(x * 0.70710678f));
    } else {
      ok = false;
      return;
    }
    auto start = std::chrono::steady_clock::now();
    Target target = get_jit_target_from_environment();
    vec = target.natural_vector_size<float>();
    int64_t rowLen = p.channelsLast ? p.c : p.s;
    rowsPerTask = (int)std::max<int64_t>(1, 65536 / std::max<int64_t>(1, rowLen));

    Func f("f");
    f(a, b, nv) = value;
    schedulePure(f);
    forwardPipeline = Pipeline(f);
    forwardPipeline.compile_jit(target);

    Derivative d = propagate_adjoints(f, dyb);
    std::vector<Func> outs = {d(xb)};
    schedulePure(outs[0]);
    for (size_t k = 0; k < pf.size(); ++k) {
      Func adj = d(pf[k]);
      scheduleReduction(adj);
      if (pb[k].dimensions() == 1 && pb[k].dim(0).extent() == 1 && c > 1) {
        // A scalar read at every channel: its gradient is the sum over channels.
        Func sum("dparam" + std::to_string(k));
        Var v("v");
        RDom r(0, c);
        sum(v) = 0.0f;
        sum(v) += adj(r);
        outs.push_back(sum);
      } else {
        outs.push_back(adj);
      }
    }
    backwardPipeline = Pipeline(outs);
    backwardPipeline.compile_jit(target);
    if (compileMs)
      *compileMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                             start)
                       .count();
  }

  bool valid() const { return ok; }
  void forward() override { forwardPipeline.realize(yb); }
  void backward() override {
    std::vector<Buffer<>> outs = {dxb};
    for (Buffer<float> &b : dpb)
      outs.push_back(b);
    backwardPipeline.realize(Realization(outs));
  }

private:
  /// An elementwise Func over (inner, rows, n): vectorised inner, parallel rows.
  void schedulePure(Func f) {
    std::vector<Var> args = f.args();
    Var outer("outer"), inner("inner");
    f.split(args[1], outer, inner, rowsPerTask, TailStrategy::GuardWithIf)
        .parallel(outer)
        .vectorize(args[0], vec, TailStrategy::GuardWithIf);
    for (int u = 0; u < f.num_update_definitions(); ++u)
      f.update(u).parallel(args[1]).vectorize(args[0], vec, TailStrategy::GuardWithIf);
  }
  /// A parameter's adjoint: a Func over (cv[, nn]) (or (kv, cv) for the table) whose
  /// updates reduce over the tensor: parallel over channels and, channels-first, the
  /// innermost reduction vectorised when Halide can prove the sum associative
  /// (atomic). Schedules Halide refuses
  /// (a scatter to a computed table index) leave that stage serial.
  void scheduleReduction(Func adj) {
    adj.compute_root();
    Var cv;
    for (const Var &v : adj.args())
      if (v.name() == "cv")
        cv = v;
    for (int u = 0; u < adj.num_update_definitions(); ++u) {
      std::vector<RVar> rv = adj.rvars(u);
      auto attempt = [&](const std::function<void(Stage)> &how) {
        try {
          how(adj.update(u));
        } catch (const Halide::Error &) {
        }
      };
      attempt([&](Stage st) { st.parallel(cv); });
      // Channels-last reductions stay serial inside each channel: vectorising them
      // over channels made Halide 14's JIT code crash (acon_c, nsc).
      if (!p.channelsLast) {
        if (!rv.empty())
          attempt([&](Stage st) { st.atomic().vectorize(rv[0], vec, TailStrategy::GuardWithIf); });
      }
    }
  }

  Problem p;
  bool ok = true;
  int vec = 8, rowsPerTask = 1;
  Buffer<float> xb, yb, dyb, dxb;
  std::vector<Buffer<float>> pb, dpb;
  std::vector<Func> pf;
  Pipeline forwardPipeline, backwardPipeline;
};

} // namespace

bool haveHalide() { return true; }

std::unique_ptr<Kernel> makeHalide(const std::string &fn, const Problem &problem,
                                   double *compileMs) {
  // The JIT runtime's thread pool reads HL_NUM_THREADS when it first starts.
  setenv("HL_NUM_THREADS", std::to_string(problem.threads).c_str(), 1);
  auto k = std::make_unique<HalideKernel>(fn, problem, compileMs);
  if (!k->valid())
    return nullptr;
  return k;
}

} // namespace actbench

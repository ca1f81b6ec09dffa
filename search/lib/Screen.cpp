// act::search: screening (canonical form, numeric fingerprint, verdict) of candidates
// compiled in batches. Values and derivatives come from act's float64 kernels.
#include "act/search.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

namespace act::search {

namespace {
double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string formatX(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", x);
  return buf;
}

/// Per-candidate results of one probe pass: f and f' at every probe point.
struct Probe {
  std::vector<double> f, df;
};

/// Runs the fused float64 kernel of `a` at the probes, every learnable parameter
/// set to `scale * init + shift` (constants keep their values).
Probe probe(const Activation &a, double scale, double shift) {
  const std::vector<double> &xs = Screener::probes();
  TensorShape shape{(int64_t)xs.size(), 1, 1};
  std::vector<std::vector<double>> params;
  std::vector<const double *> paramPtrs;
  for (const ParamInfo &p : a.params()) {
    std::vector<double> v = p.init.empty() ? std::vector<double>((size_t)p.numValues(shape), 1.0)
                                           : p.initialValues(shape);
    if (!p.isConst)
      for (double &e : v)
        e = scale * e + shift;
    params.push_back(std::move(v));
  }
  for (auto &v : params)
    paramPtrs.push_back(v.data());
  Probe r;
  r.f.resize(xs.size());
  r.df.resize(xs.size());
  const double *in[] = {xs.data()};
  double *outs[] = {r.f.data(), r.df.data()};
  a.derivatives(1, shape, in, outs, paramPtrs.empty() ? nullptr : paramPtrs.data());
  return r;
}

/// Values rounded to 9 significant digits (|v| < 1e-12 counts as 0), hashed.
void addToFingerprint(uint64_t &h, const std::vector<double> &values) {
  char buf[40];
  for (double v : values) {
    if (std::isnan(v))
      std::snprintf(buf, sizeof buf, "nan;");
    else if (std::abs(v) < 1e-12)
      std::snprintf(buf, sizeof buf, "0;");
    else
      std::snprintf(buf, sizeof buf, "%.8e;", v);
    for (const char *c = buf; *c; ++c) {
      h ^= (unsigned char)*c;
      h *= 1099511628211ull;
    }
  }
}

/// Whether f' is the same at every probe, or 0 at almost every one; sets `why`.
bool flatDerivative(const Probe &p, const ScreenOptions &o, Verdict &why, std::string &reason) {
  double lo = p.df[0], hi = p.df[0];
  size_t zeros = 0;
  for (double d : p.df) {
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    zeros += std::abs(d) < 1e-9;
  }
  if (hi - lo <= 1e-9 * (1 + std::abs(lo))) {
    why = Verdict::ConstantDerivative;
    reason = "f'(x) = " + formatX(lo) + " everywhere: f is affine";
    return true;
  }
  if ((double)zeros >= o.zeroFraction * (double)p.df.size()) {
    why = Verdict::ZeroDerivative;
    reason = "f'(x) = 0 at " + std::to_string(zeros) + " of " + std::to_string(p.df.size()) +
             " probe points";
    return true;
  }
  return false;
}

/// The verdict on f and f' at the probes, parameters at their initial values. With
/// learnable parameters (`moved`: f and f' with them moved) a flat derivative must
/// be flat there too: beta * a + (1 - beta) * b is flat at beta = 1 when a is, yet
/// training moves beta.
void judge(const Probe &p, const Probe *moved, const ScreenOptions &o, Screened &s) {
  const std::vector<double> &xs = Screener::probes();
  for (size_t i = 0; i < xs.size(); ++i)
    if (!std::isfinite(p.f[i])) {
      s.verdict = Verdict::NonFinite;
      s.reason = "f(x) is " + std::string(std::isnan(p.f[i]) ? "NaN" : "infinite") +
                 " at x = " + formatX(xs[i]);
      return;
    }
  for (size_t i = 0; i < xs.size(); ++i)
    if (!std::isfinite(p.df[i])) {
      s.verdict = Verdict::NonFiniteDerivative;
      s.reason = "f'(x) is " + std::string(std::isnan(p.df[i]) ? "NaN" : "infinite") +
                 " at x = " + formatX(xs[i]);
      return;
    }
  for (size_t i = 0; i < xs.size(); ++i)
    if (std::abs(p.f[i]) > o.explodeLimit) {
      s.verdict = Verdict::Exploding;
      s.reason = "|f(x)| = " + formatX(std::abs(p.f[i])) + " > " + formatX(o.explodeLimit) +
                 " at x = " + formatX(xs[i]);
      return;
    }
  Verdict why = Verdict::Ok, whyMoved = Verdict::Ok;
  std::string reason, reasonMoved;
  if (flatDerivative(p, o, why, reason) &&
      (!moved || flatDerivative(*moved, o, whyMoved, reasonMoved))) {
    s.verdict = why;
    s.reason = reason + (moved ? ", for every parameter value tried" : "");
    return;
  }
  s.verdict = Verdict::Ok;
}
} // namespace

const char *verdictName(Verdict v) {
  switch (v) {
  case Verdict::Ok: return "ok";
  case Verdict::CompileError: return "compile-error";
  case Verdict::Duplicate: return "duplicate";
  case Verdict::NonFinite: return "non-finite";
  case Verdict::NonFiniteDerivative: return "non-finite-derivative";
  case Verdict::ConstantDerivative: return "constant-derivative";
  case Verdict::ZeroDerivative: return "zero-derivative";
  case Verdict::Exploding: return "exploding";
  }
  return "?";
}

const std::vector<double> &Screener::probes() {
  // 200 midpoints of a uniform grid on [-5, 5] (0 itself is not a probe: kinks
  // such as sqrt(|x|)'s are measure-zero), then 56 fixed pseudo-random points.
  static const std::vector<double> points = [] {
    std::vector<double> xs;
    for (int k = 0; k < 200; ++k)
      xs.push_back(-5 + 10 * (k + 0.5) / 200);
    uint64_t state = 0x9E3779B97F4A7C15ull;
    for (int k = 0; k < 56; ++k) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      xs.push_back(-5 + 10 * (double)(state >> 11) / 9007199254740992.0);
    }
    return xs;
  }();
  return points;
}

Screener::Screener(ScreenOptions options) : options(std::move(options)) {}

std::vector<Screened> Screener::screen(const std::vector<Candidate> &candidates) {
  std::vector<Screened> out;
  out.reserve(candidates.size());
  size_t batch = std::max<size_t>(1, options.batchSize);
  for (size_t at = 0; at < candidates.size(); at += batch) {
    std::vector<Candidate> part(candidates.begin() + (ptrdiff_t)at,
                                candidates.begin() + (ptrdiff_t)std::min(candidates.size(), at + batch));
    screenBatch(part, out);
  }
  return out;
}

void Screener::screenBatch(const std::vector<Candidate> &batch, std::vector<Screened> &out) {
  auto t0 = std::chrono::steady_clock::now();
  size_t first = out.size();
  for (const Candidate &c : batch)
    out.push_back(Screened{c, "", "", Verdict::Ok, "", 0});
  Screened *rows = out.data() + first;
  stats_.candidates += batch.size();

  // One module for the batch; a candidate that does not compile alone is taken out.
  auto name = [](size_t i) { return "c" + std::to_string(i); };
  std::vector<bool> bad(batch.size(), false);
  auto source = [&] {
    std::string src;
    for (size_t i = 0; i < batch.size(); ++i)
      if (!bad[i])
        src += definition(name(i), batch[i]);
    return src;
  };
  std::unique_ptr<Module> module;
  try {
    module = std::make_unique<Module>(Module::compile(source(), "<search>", options.compile));
  } catch (const CompileError &) {
    for (size_t i = 0; i < batch.size(); ++i) {
      try {
        Module::compile(definition(name(i), batch[i]),
                        "candidate " + std::to_string(batch[i].index), options.compile);
      } catch (const CompileError &e) {
        bad[i] = true;
        rows[i].verdict = Verdict::CompileError;
        rows[i].reason = e.what();
      }
    }
    module = std::make_unique<Module>(Module::compile(source(), "<search>", options.compile));
  }

  // Canonical forms; a form seen before is a duplicate and is not compiled.
  std::vector<std::string> names;
  std::vector<size_t> compiledRows;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (bad[i])
      continue;
    const Activation &a = module->get(name(i));
    if (a.inputs().size() != 1) {
      rows[i].verdict = Verdict::CompileError;
      rows[i].reason = "a candidate takes one input, x";
      continue;
    }
    rows[i].canonical = a.canonicalForm();
    auto [it, fresh] = canonicalSeen.emplace(rows[i].canonical, batch[i].index);
    if (!fresh) {
      rows[i].verdict = Verdict::Duplicate;
      rows[i].duplicateOf = it->second;
      rows[i].reason = "same canonical form as candidate " + std::to_string(it->second);
      continue;
    }
    names.push_back(name(i));
    compiledRows.push_back(i);
  }
  auto t1 = std::chrono::steady_clock::now();
  stats_.parseSeconds += std::chrono::duration<double>(t1 - t0).count();

  Module::KernelSelection fusedOnly;
  fusedOnly.forward = fusedOnly.backward = false;
  fusedOnly.nsc = false;
  fusedOnly.quick = true; // 256 points per call: build time is all that counts
  module->compileKernels(DType::F64, names, fusedOnly);
  stats_.compiled += names.size();
  auto t2 = std::chrono::steady_clock::now();
  stats_.jitSeconds += std::chrono::duration<double>(t2 - t1).count();

  for (size_t i : compiledRows) {
    const Activation &a = module->get(name(i));
    Probe initial = probe(a, 1, 0);
    uint64_t h = 1469598103934665603ull;
    addToFingerprint(h, initial.f);
    bool learnable = false;
    for (const ParamInfo &p : a.params())
      learnable |= !p.isConst;
    Probe moved;
    if (learnable) { // the function of its parameters too: a second setting
      moved = probe(a, 0.5, 0.185);
      addToFingerprint(h, moved.f);
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    rows[i].fingerprint = hex;
    fingerprintOf[batch[i].index] = rows[i].fingerprint;
    auto [it, fresh] = fingerprintSeen.emplace(rows[i].fingerprint, batch[i].index);
    if (!fresh) {
      rows[i].verdict = Verdict::Duplicate;
      rows[i].duplicateOf = it->second;
      rows[i].reason = "same fingerprint as candidate " + std::to_string(it->second);
      continue;
    }
    judge(initial, learnable ? &moved : nullptr, options, rows[i]);
  }
  // Duplicates take their representative's fingerprint (their shard goes with it).
  for (size_t i = 0; i < batch.size(); ++i)
    if (rows[i].verdict == Verdict::Duplicate) {
      auto it = fingerprintOf.find(rows[i].duplicateOf);
      if (it != fingerprintOf.end())
        rows[i].fingerprint = it->second;
    }
  stats_.probeSeconds += secondsSince(t2);
}

} // namespace act::search

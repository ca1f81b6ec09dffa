// Meta-ACON (Ma et al., "Activate or Not: Learning Customized Activation", 2021): ACON-C
// whose switching factor beta is generated from the input, with the paper's three
// generators:
//
//   pixel-wise    beta = sigmoid(x), inside the formula: act differentiates it
//   layer-wise    beta[N]   = sigmoid(mean of x over C and S), computed here
//   channel-wise  beta[N,C] = sigmoid(W2 (W1 mean_S(x) + b1) + b2), the paper's
//                 two-layer generator (hidden width max(r, C / r), r = 16), without
//                 BatchNorm so that batch size 1 works
//
// act's backward kernels give dx, dp1, dp2 and dbeta; the chain rule through the
// generator (written out below) carries dbeta back to x and to W1, b1, W2, b2. Every
// gradient is checked against central differences of a float64 loss written here
// independently of act; exit status 1 when one is off.
#include <act/act.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

const char *kSource = R"(
act acon_pixel(x; p1[C] = 1.0, p2[C] = 0.0) = smooth_max(p1 * x, p2 * x; sigmoid(x))
act acon_layer(x; p1[C] = 1.0, p2[C] = 0.0, beta[N]) = smooth_max(p1 * x, p2 * x; beta)
act acon_channel(x; p1[C] = 1.0, p2[C] = 0.0, beta[N,C]) = smooth_max(p1 * x, p2 * x; beta)
)";

enum class Mode { Pixel, Layer, Channel };
const char *modeName(Mode m) {
  return m == Mode::Pixel ? "pixel-wise" : m == Mode::Layer ? "layer-wise" : "channel-wise";
}

double sigmoid(double z) { return 1 / (1 + std::exp(-z)); }

/// One Meta-ACON layer over an (N, C, S) channels-first tensor: its input, ACON-C's
/// p1, p2 and the channel-wise generator's weights.
struct Layer {
  int64_t n, c, s, hidden;
  std::vector<double> x, p1, p2, w1, b1, w2, b2; // w1: hidden x c, w2: c x hidden

  size_t at(int64_t i, int64_t j, int64_t k) const { return size_t((i * c + j) * s + k); }

  /// The generated beta: N values (layer-wise) or N*C (channel-wise); also the
  /// generator's intermediates for the backward pass.
  std::vector<double> beta(Mode mode, std::vector<double> *means = nullptr,
                           std::vector<double> *hid = nullptr) const {
    std::vector<double> out;
    if (mode == Mode::Layer) {
      for (int64_t i = 0; i < n; ++i) {
        double sum = 0;
        for (int64_t j = 0; j < c * s; ++j)
          sum += x[size_t(i * c * s + j)];
        out.push_back(sigmoid(sum / double(c * s)));
      }
    } else if (mode == Mode::Channel) {
      std::vector<double> m(size_t(n * c), 0), h(size_t(n * hidden), 0);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < c; ++j) {
          for (int64_t k = 0; k < s; ++k)
            m[size_t(i * c + j)] += x[at(i, j, k)];
          m[size_t(i * c + j)] /= double(s);
        }
      for (int64_t i = 0; i < n; ++i)
        for (int64_t u = 0; u < hidden; ++u) {
          double v = b1[size_t(u)];
          for (int64_t j = 0; j < c; ++j)
            v += w1[size_t(u * c + j)] * m[size_t(i * c + j)];
          h[size_t(i * hidden + u)] = v;
        }
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < c; ++j) {
          double z = b2[size_t(j)];
          for (int64_t u = 0; u < hidden; ++u)
            z += w2[size_t(j * hidden + u)] * h[size_t(i * hidden + u)];
          out.push_back(sigmoid(z));
        }
      if (means)
        *means = m;
      if (hid)
        *hid = h;
    }
    return out;
  }
};

/// The loss sum_i w_i * y_i with y from an independent float64 ACON-C:
/// smooth_max(a, b; beta) = (a - b) * sigmoid(beta * (a - b)) + b.
double referenceLoss(const Layer &l, Mode mode, const std::vector<double> &w) {
  std::vector<double> beta = l.beta(mode);
  double loss = 0;
  for (int64_t i = 0; i < l.n; ++i)
    for (int64_t j = 0; j < l.c; ++j)
      for (int64_t k = 0; k < l.s; ++k) {
        double x = l.x[l.at(i, j, k)];
        double b = mode == Mode::Pixel   ? sigmoid(x)
                   : mode == Mode::Layer ? beta[size_t(i)]
                                         : beta[size_t(i * l.c + j)];
        double d = (l.p1[size_t(j)] - l.p2[size_t(j)]) * x;
        loss += w[l.at(i, j, k)] * (d * sigmoid(b * d) + l.p2[size_t(j)] * x);
      }
  return loss;
}

struct Grads {
  std::vector<double> x, p1, p2, w1, b1, w2, b2;
};

/// Forward with act's kernel, then act's backward for dy = w, then the generator's
/// chain rule. Returns the loss from act's forward values.
double actLossAndGrads(const act::Activation &f, const Layer &l, Mode mode,
                       const std::vector<double> &w, Grads &g) {
  act::TensorShape shape{l.n, l.c, l.s, act::Layout::NCS};
  std::vector<double> means, hid;
  std::vector<double> beta = l.beta(mode, &means, &hid);
  std::vector<const double *> params = {l.p1.data(), l.p2.data()};
  if (mode != Mode::Pixel)
    params.push_back(beta.data());
  const double *inputs[] = {l.x.data()};
  std::vector<double> y(l.x.size());
  g.x.assign(l.x.size(), 0);
  g.p1.assign(l.p1.size(), 0);
  g.p2.assign(l.p2.size(), 0);
  std::vector<double> dbeta(beta.size());
  double *dinputs[] = {g.x.data()};
  std::vector<double *> dparams = {g.p1.data(), g.p2.data(), dbeta.data()};
  f.backward(shape, inputs, w.data(), dinputs, dparams.data(), params.data(), y.data());
  double loss = 0;
  for (size_t i = 0; i < y.size(); ++i)
    loss += w[i] * y[i];

  if (mode == Mode::Layer) { // beta_n = sigmoid(mean_n): d mean_n / dx = 1 / (C S)
    for (int64_t i = 0; i < l.n; ++i) {
      double b = beta[size_t(i)], dz = dbeta[size_t(i)] * b * (1 - b);
      for (int64_t j = 0; j < l.c * l.s; ++j)
        g.x[size_t(i * l.c * l.s + j)] += dz / double(l.c * l.s);
    }
  } else if (mode == Mode::Channel) {
    g.w1.assign(l.w1.size(), 0);
    g.b1.assign(l.b1.size(), 0);
    g.w2.assign(l.w2.size(), 0);
    g.b2.assign(l.b2.size(), 0);
    for (int64_t i = 0; i < l.n; ++i) {
      std::vector<double> dz(size_t(l.c)), dh(size_t(l.hidden), 0), dm(size_t(l.c), 0);
      for (int64_t j = 0; j < l.c; ++j) { // beta = sigmoid(z)
        double b = beta[size_t(i * l.c + j)];
        dz[size_t(j)] = dbeta[size_t(i * l.c + j)] * b * (1 - b);
        g.b2[size_t(j)] += dz[size_t(j)];
      }
      for (int64_t j = 0; j < l.c; ++j) // z = W2 h + b2
        for (int64_t u = 0; u < l.hidden; ++u) {
          g.w2[size_t(j * l.hidden + u)] += dz[size_t(j)] * hid[size_t(i * l.hidden + u)];
          dh[size_t(u)] += l.w2[size_t(j * l.hidden + u)] * dz[size_t(j)];
        }
      for (int64_t u = 0; u < l.hidden; ++u) { // h = W1 m + b1
        g.b1[size_t(u)] += dh[size_t(u)];
        for (int64_t j = 0; j < l.c; ++j) {
          g.w1[size_t(u * l.c + j)] += dh[size_t(u)] * means[size_t(i * l.c + j)];
          dm[size_t(j)] += l.w1[size_t(u * l.c + j)] * dh[size_t(u)];
        }
      }
      for (int64_t j = 0; j < l.c; ++j) // m = mean over S
        for (int64_t k = 0; k < l.s; ++k)
          g.x[l.at(i, j, k)] += dm[size_t(j)] / double(l.s);
    }
  }
  return loss;
}

/// Worst |analytic - central difference| / max(1, |central difference|) over `values`.
double check(const char *what, std::vector<double> &values, const std::vector<double> &grad,
             const Layer &l, Mode mode, const std::vector<double> &w) {
  double worst = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    double saved = values[i], h = 1e-6 * std::max(1.0, std::fabs(saved));
    values[i] = saved + h;
    double up = referenceLoss(l, mode, w);
    values[i] = saved - h;
    double down = referenceLoss(l, mode, w);
    values[i] = saved;
    double fd = (up - down) / (2 * h);
    worst = std::max(worst, std::fabs(grad[i] - fd) / std::max(1.0, std::fabs(fd)));
  }
  std::printf("  d%-3s %5zu values, worst error vs finite differences %.2e\n", what,
              values.size(), worst);
  return worst;
}

} // namespace

int main() {
  act::Module module = act::Module::compile(kSource, "meta_acon.act");
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> uni(-1, 1);
  bool ok = true;
  struct Case {
    Mode mode;
    int64_t n;
  };
  for (Case cs : {Case{Mode::Pixel, 2}, Case{Mode::Layer, 2}, Case{Mode::Channel, 2},
                  Case{Mode::Channel, 1}}) {
    Layer l;
    l.n = cs.n;
    l.c = 64;
    l.s = 6;
    l.hidden = std::max<int64_t>(16, l.c / 16); // the paper's max(r, C / r), r = 16
    auto fill = [&](std::vector<double> &v, size_t count, double lo, double hi) {
      v.resize(count);
      for (double &e : v)
        e = lo + (hi - lo) * (uni(rng) + 1) / 2;
    };
    fill(l.x, size_t(l.n * l.c * l.s), -3, 3);
    fill(l.p1, size_t(l.c), 0.5, 1.5);
    fill(l.p2, size_t(l.c), -0.5, 0.5);
    double scale = 2 / std::sqrt(double(l.c));
    fill(l.w1, size_t(l.hidden * l.c), -scale, scale);
    fill(l.b1, size_t(l.hidden), -0.5, 0.5);
    fill(l.w2, size_t(l.c * l.hidden), -0.5, 0.5);
    fill(l.b2, size_t(l.c), -0.5, 0.5);
    std::vector<double> w;
    fill(w, l.x.size(), -1, 1);

    const char *name = cs.mode == Mode::Pixel   ? "acon_pixel"
                       : cs.mode == Mode::Layer ? "acon_layer"
                                                : "acon_channel";
    Grads g;
    double loss = actLossAndGrads(module.get(name), l, cs.mode, w, g);
    double ref = referenceLoss(l, cs.mode, w);
    std::printf("%s Meta-ACON (%s, N=%lld C=%lld S=%lld): loss %.6f, float64 reference %.6f\n",
                modeName(cs.mode), name, (long long)l.n, (long long)l.c, (long long)l.s, loss,
                ref);
    double worst = std::fabs(loss - ref) / std::max(1.0, std::fabs(ref));
    worst = std::max(worst, check("x", l.x, g.x, l, cs.mode, w));
    worst = std::max(worst, check("p1", l.p1, g.p1, l, cs.mode, w));
    worst = std::max(worst, check("p2", l.p2, g.p2, l, cs.mode, w));
    if (cs.mode == Mode::Channel) {
      worst = std::max(worst, check("W1", l.w1, g.w1, l, cs.mode, w));
      worst = std::max(worst, check("b1", l.b1, g.b1, l, cs.mode, w));
      worst = std::max(worst, check("W2", l.w2, g.w2, l, cs.mode, w));
      worst = std::max(worst, check("b2", l.b2, g.b2, l, cs.mode, w));
    }
    if (!(worst < 1e-6)) {
      std::printf("  FAIL: worst error %.2e above 1e-6\n", worst);
      ok = false;
    }
  }
  std::printf(ok ? "meta-acon: every gradient matches finite differences\n"
                 : "meta-acon: FAIL\n");
  return ok ? 0 : 1;
}

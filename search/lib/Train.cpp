// act::search: the proxy task. An MLP (784-256-256-10 by default) trained with Adam
// and softmax cross-entropy; matrix products through CBLAS, the candidate's forward
// and backward (its parameters' gradients included) through act's float32 kernels.
#include "act/search.h"

#include <cblas.h>

// OpenBLAS's own (CMake links libopenblas); declared here, not every cblas.h has it.
extern "C" void openblas_set_num_threads(int threads);

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

namespace act::search {

namespace {
/// A trained tensor with its gradient and Adam's moments.
struct Tensor {
  std::vector<float> w, g, m, v;
  explicit Tensor(size_t n = 0) : w(n), g(n), m(n), v(n) {}
  void adam(double lr, int step) {
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double c1 = 1 - std::pow(b1, step), c2 = 1 - std::pow(b2, step);
    for (size_t i = 0; i < w.size(); ++i) {
      m[i] = (float)(b1 * m[i] + (1 - b1) * g[i]);
      v[i] = (float)(b2 * v[i] + (1 - b2) * (double)g[i] * g[i]);
      w[i] -= (float)(lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps));
    }
  }
};

/// One dense layer (row-major weights, in x out), with the activation's parameters
/// when it is a hidden layer.
struct Layer {
  int in = 0, out = 0;
  Tensor weight, bias;
  std::vector<Tensor> params; ///< one per activation parameter, declaration order
  std::vector<float> x, z, a, dz; ///< input copy not kept: x points at the previous a
};

double uniform01(std::mt19937_64 &rng) { return (double)(rng() >> 11) * 0x1.0p-53; }

class Mlp {
public:
  Mlp(const Activation &act, const TrainOptions &o) : act(act) {
    std::mt19937_64 rng(o.seed);
    int in = 784;
    std::vector<int> widths = o.hidden;
    widths.push_back(10);
    for (size_t l = 0; l < widths.size(); ++l) {
      Layer L;
      L.in = in;
      L.out = widths[l];
      L.weight = Tensor((size_t)in * L.out);
      L.bias = Tensor((size_t)L.out);
      double bound = 1 / std::sqrt((double)in); // PyTorch's nn.Linear default
      for (float &w : L.weight.w)
        w = (float)((2 * uniform01(rng) - 1) * bound);
      for (float &b : L.bias.w)
        b = (float)((2 * uniform01(rng) - 1) * bound);
      if (l + 1 < widths.size())
        for (const ParamInfo &p : act.params()) {
          if (p.perSample)
            throw Error("parameter '" + p.name + "' is per sample ([N]); the proxy task "
                        "trains parameters of shape [], [C] or tables only");
          TensorShape shape{1, L.out, 1};
          Tensor t((size_t)p.numValues(shape));
          std::vector<double> init = p.initialValues(shape);
          std::copy(init.begin(), init.end(), t.w.begin());
          L.params.push_back(std::move(t));
        }
      layers.push_back(std::move(L));
      in = widths[l];
    }
  }

  /// Logits of `rows` inputs `x` in the last layer's z.
  void forward(const float *x, int rows) {
    for (size_t l = 0; l < layers.size(); ++l) {
      Layer &L = layers[l];
      L.z.resize((size_t)rows * L.out);
      for (int r = 0; r < rows; ++r)
        std::copy(L.bias.w.begin(), L.bias.w.end(), L.z.begin() + (ptrdiff_t)r * L.out);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, L.out, L.in, 1.0f, x,
                  L.in, L.weight.w.data(), L.out, 1.0f, L.z.data(), L.out);
      if (l + 1 == layers.size())
        break;
      L.a.resize(L.z.size());
      std::vector<const float *> ps = paramPtrs(L);
      const float *in[] = {L.z.data()};
      act.forward(TensorShape{rows, L.out, 1}, in, L.a.data(), ps.data());
      x = L.a.data();
    }
  }

  /// Cross-entropy of the logits against `labels`; fills the last layer's dz with
  /// the gradient of the mean loss. Returns the mean loss.
  double lossAndGradient(const uint8_t *labels, int rows) {
    Layer &L = layers.back();
    L.dz.resize(L.z.size());
    double total = 0;
    for (int r = 0; r < rows; ++r) {
      const float *z = &L.z[(size_t)r * L.out];
      float *dz = &L.dz[(size_t)r * L.out];
      float mx = *std::max_element(z, z + L.out);
      double sum = 0;
      for (int k = 0; k < L.out; ++k)
        sum += std::exp((double)z[k] - mx);
      total += std::log(sum) + mx - z[labels[r]];
      for (int k = 0; k < L.out; ++k)
        dz[k] = (float)((std::exp((double)z[k] - mx) / sum - (k == labels[r])) / rows);
    }
    return total / rows;
  }

  void backward(const float *x, int rows) {
    for (size_t l = layers.size(); l-- > 0;) {
      Layer &L = layers[l];
      const float *input = l ? layers[l - 1].a.data() : x;
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L.in, L.out, rows, 1.0f, input,
                  L.in, L.dz.data(), L.out, 0.0f, L.weight.g.data(), L.out);
      std::fill(L.bias.g.begin(), L.bias.g.end(), 0.0f);
      for (int r = 0; r < rows; ++r)
        for (int k = 0; k < L.out; ++k)
          L.bias.g[k] += L.dz[(size_t)r * L.out + k];
      if (l == 0)
        break;
      Layer &P = layers[l - 1];
      std::vector<float> da((size_t)rows * P.out);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, P.out, L.out, 1.0f,
                  L.dz.data(), L.out, L.weight.w.data(), L.out, 0.0f, da.data(), P.out);
      P.dz.resize(da.size());
      std::vector<const float *> ps = paramPtrs(P);
      std::vector<float *> dps;
      for (Tensor &t : P.params)
        dps.push_back(t.g.data());
      const float *in[] = {P.z.data()};
      float *dz[] = {P.dz.data()};
      act.backward(TensorShape{rows, P.out, 1}, in, da.data(), dz,
                   dps.empty() ? nullptr : dps.data(), ps.data(), nullptr);
    }
  }

  void step(double lr) {
    ++steps;
    for (Layer &L : layers) {
      L.weight.adam(lr, steps);
      L.bias.adam(lr, steps);
      for (size_t p = 0; p < L.params.size(); ++p)
        if (!act.params()[p].isConst)
          L.params[p].adam(lr, steps);
    }
  }

  double accuracy(const Images &im) {
    const int chunk = 1000;
    size_t right = 0;
    for (size_t at = 0; at < im.rows; at += chunk) {
      int rows = (int)std::min<size_t>(chunk, im.rows - at);
      forward(&im.pixels[at * 784], rows);
      const Layer &L = layers.back();
      for (int r = 0; r < rows; ++r) {
        const float *z = &L.z[(size_t)r * L.out];
        right += (size_t)(std::max_element(z, z + L.out) - z) == im.labels[at + r];
      }
    }
    return im.rows ? (double)right / im.rows : 0;
  }

  std::vector<double> firstParams() const {
    std::vector<double> out;
    if (layers.size() > 1)
      for (const Tensor &t : layers.front().params)
        out.insert(out.end(), t.w.begin(), t.w.end());
    return out;
  }

  int steps = 0;

private:
  const Activation &act;
  std::vector<Layer> layers;

  static std::vector<const float *> paramPtrs(const Layer &L) {
    std::vector<const float *> ps;
    for (const Tensor &t : L.params)
      ps.push_back(t.w.data());
    ps.push_back(nullptr); // never empty: data() is a valid array
    return ps;
  }
};
} // namespace

TrainResult train(const Activation &activation, const ProxyData &data,
                  const TrainOptions &o) {
  auto t0 = std::chrono::steady_clock::now();
  TrainResult r;
  if (activation.inputs().size() != 1) {
    r.error = "the proxy task trains activations of one input";
    return r;
  }
  if (o.batch < 1 || o.epochs < 0 || data.train.rows == 0)
    throw Error("proxy task: batch size must be at least 1 and the training set non-empty");
  if (o.blasThreads > 0)
    openblas_set_num_threads(o.blasThreads);
  std::unique_ptr<Mlp> net;
  try {
    net = std::make_unique<Mlp>(activation, o);
  } catch (const Error &e) {
    r.error = e.what();
    return r;
  }
  std::vector<size_t> order(data.train.rows);
  std::vector<float> x;
  std::vector<uint8_t> y;
  double windowLoss = 0, lastLoss = 0;
  int window = 0;
  for (int epoch = 0; epoch < o.epochs && !r.diverged; ++epoch) {
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(o.seed * 1000003 + (uint64_t)epoch);
    for (size_t i = order.size(); i > 1; --i) // Fisher-Yates, the same everywhere
      std::swap(order[i - 1], order[rng() % i]);
    for (size_t at = 0; at < order.size(); at += (size_t)o.batch) {
      int rows = (int)std::min<size_t>((size_t)o.batch, order.size() - at);
      x.resize((size_t)rows * 784);
      y.resize((size_t)rows);
      for (int k = 0; k < rows; ++k) {
        size_t src = order[at + (size_t)k];
        std::copy_n(&data.train.pixels[src * 784], 784, &x[(size_t)k * 784]);
        y[(size_t)k] = data.train.labels[src];
      }
      net->forward(x.data(), rows);
      double loss = net->lossAndGradient(y.data(), rows);
      if (!std::isfinite(loss)) {
        r.diverged = true;
        break;
      }
      net->backward(x.data(), rows);
      net->step(o.learningRate);
      windowLoss += loss;
      lastLoss = loss;
      if (++window == 50) {
        r.losses.push_back(windowLoss / window);
        windowLoss = 0;
        window = 0;
      }
    }
  }
  if (window && !r.diverged)
    r.losses.push_back(windowLoss / window);
  r.steps = net->steps;
  r.trainLoss = r.losses.empty() ? lastLoss : r.losses.back();
  if (!r.diverged) {
    r.validationAccuracy = net->accuracy(data.validation);
    if (o.evaluateTest)
      r.testAccuracy = net->accuracy(data.test);
    r.params = net->firstParams();
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

} // namespace act::search

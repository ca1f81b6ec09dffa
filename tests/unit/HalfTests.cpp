// float16 / bfloat16: the host conversions against a brute-force nearest-value
// search, and every seed's f16/bf16 kernels against its float32 kernels rounded once.
#include "TestSupport.h"

#include "act/act.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using act::DType;
using act_test::fmt;

namespace {

struct HalfType {
  DType dtype;
  const char *name;
  uint16_t (*round)(double);
  double (*widen)(uint16_t);
};
const HalfType kF16{DType::F16, "f16", act::toFloat16, act::fromFloat16};
const HalfType kBF16{DType::BF16, "bf16", act::toBFloat16, act::fromBFloat16};

/// The nearest representable value by search over every positive finite pattern
/// (ties to the even pattern; beyond the largest finite value by half an ulp: inf).
uint16_t nearestBySearch(const HalfType &t, double v) {
  static std::vector<std::pair<double, uint16_t>> table[2];
  auto &values = table[t.dtype == DType::BF16];
  if (values.empty()) {
    for (uint32_t b = 0; b < 0x8000; ++b) {
      double d = t.widen((uint16_t)b);
      if (std::isfinite(d))
        values.emplace_back(d, (uint16_t)b);
    }
    std::sort(values.begin(), values.end());
  }
  uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  double a = std::fabs(v);
  double maxFinite = values.back().first;
  double ulpAtMax = maxFinite - values[values.size() - 2].first;
  if (a >= maxFinite + ulpAtMax / 2)
    return sign | t.round(INFINITY);
  auto hi = std::lower_bound(values.begin(), values.end(), std::make_pair(a, uint16_t(0)));
  if (hi == values.end())
    return sign | values.back().second;
  if (hi->first == a || hi == values.begin())
    return sign | hi->second;
  auto lo = hi - 1;
  double dl = a - lo->first, dh = hi->first - a;
  if (dl < dh || (dl == dh && (lo->second & 1) == 0))
    return sign | lo->second;
  return sign | hi->second;
}

} // namespace

TEST_CASE("float16 and bfloat16 conversions round once to nearest even", "[half]") {
  // Known patterns.
  CHECK(act::toFloat16(1.0) == 0x3c00);
  CHECK(act::toFloat16(-2.0) == 0xc000);
  CHECK(act::toFloat16(65504.0) == 0x7bff);
  CHECK(act::toFloat16(65519.99) == 0x7bff);
  CHECK(act::toFloat16(65520.0) == 0x7c00); // the tie rounds up to inf
  CHECK(act::toFloat16(std::ldexp(1.0, -24)) == 0x0001);
  CHECK(act::toFloat16(std::ldexp(1.0, -25)) == 0x0000); // tie to even: 0
  CHECK(act::toFloat16(std::ldexp(1.5, -25)) == 0x0001);
  CHECK(act::toFloat16(-0.0) == 0x8000);
  CHECK(act::toFloat16(INFINITY) == 0x7c00);
  CHECK((act::toFloat16(NAN) & 0x7c00) == 0x7c00);
  CHECK((act::toFloat16(NAN) & 0x03ff) != 0);
  CHECK(act::toBFloat16(1.0) == 0x3f80);
  CHECK(act::toBFloat16(1.0 + 1.0 / 256) == 0x3f80); // tie to even
  CHECK(act::toBFloat16(1.0 + 3.0 / 256) == 0x3f82);
  CHECK(act::toBFloat16(3.3895313892515355e38) == 0x7f7f); // the largest finite
  CHECK(act::toBFloat16(1e39) == 0x7f80);
  CHECK(act::toBFloat16(std::ldexp(1.0, -133)) == 0x0001);
  CHECK(act::fromBFloat16(0x0001) == std::ldexp(1.0, -133));
  CHECK(act::fromFloat16(0x7bff) == 65504.0);
  CHECK(std::isnan(act::fromFloat16(0x7e00)));

  // Every pattern survives a round trip.
  for (const HalfType *t : {&kF16, &kBF16})
    for (uint32_t b = 0; b < 0x10000; ++b) {
      double d = t->widen((uint16_t)b);
      if (std::isnan(d))
        continue;
      REQUIRE(t->round(d) == b);
    }

  // Random doubles at every scale, plus the midpoints between neighbours (ties).
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  std::uniform_int_distribution<int> expo(-140, 130);
  for (const HalfType *t : {&kF16, &kBF16}) {
    for (int i = 0; i < 20000; ++i) {
      double v = std::ldexp(mant(rng), expo(rng)) * (i % 2 ? -1 : 1);
      INFO(t->name << " " << fmt(v));
      REQUIRE(t->round(v) == nearestBySearch(*t, v));
    }
    for (uint32_t b = 0; b + 1 < 0x7c00; b += 37) {
      double mid = (t->widen((uint16_t)b) + t->widen((uint16_t)(b + 1))) / 2;
      INFO(t->name << " midpoint " << fmt(mid));
      REQUIRE(t->round(mid) == nearestBySearch(*t, mid));
    }
  }
}

namespace {

/// Inputs for a half type: a sweep of finite patterns plus the specials, each
/// representable exactly in the half type (and so in float).
std::vector<uint16_t> halfInputs(const HalfType &t) {
  std::vector<uint16_t> out;
  for (uint32_t b = 0; b < 0x10000; b += 97)
    out.push_back((uint16_t)b);
  for (double v : {0.0, -0.0, 1.0, -1.0, 0.5, 20.0, -20.0, 88.0, -88.0, 1e-6, (double)INFINITY,
                   -(double)INFINITY, (double)NAN})
    out.push_back(t.round(v));
  return out;
}

bool sameBits(uint16_t a, uint16_t b, const HalfType &t) {
  bool nanA = std::isnan(t.widen(a)), nanB = std::isnan(t.widen(b));
  return nanA || nanB ? nanA == nanB : a == b;
}

/// Distance in representable values between two finite half patterns.
int64_t ulpDistance(uint16_t a, uint16_t b) {
  auto ordered = [](uint16_t h) -> int64_t {
    return h & 0x8000 ? -(int64_t)(h & 0x7fff) : (int64_t)h;
  };
  return std::llabs(ordered(a) - ordered(b));
}

/// Every activation of `m` in both layouts.
std::vector<std::pair<std::string, act::Layout>> namesAndLayouts(const act::Module &m) {
  std::vector<std::pair<std::string, act::Layout>> out;
  for (const std::string &name : m.names())
    for (act::Layout layout : {act::Layout::NCS, act::Layout::NSC})
      out.emplace_back(name, layout);
  return out;
}

} // namespace

TEST_CASE("f16 and bf16 kernels equal the float32 kernels rounded once", "[half]") {
  static const act::Module m = act::Module::compileFile(ACT_EXAMPLES_DIR "/seeds.act");
  for (const HalfType *t : {&kF16, &kBF16}) {
    std::vector<uint16_t> xs = halfInputs(*t);
    for (auto [name, layout] : namesAndLayouts(m))
      for (int64_t channels : {2, 16}) {
      const act::Activation &a = m.get(name);
      INFO(t->name << " " << name << " " << act_test::layoutName(layout) << " C = " << channels);
      // Two channels with their own values, so per-channel parameters matter
      // (channels-last: rows run together, the parameters repeated in half buffers);
      // 16 channels of 48 rows, channels-last: forward kernels with a per-channel
      // table (pwlu) go by transposed tiles of 16 rows, backward ones by columns.
      act::TensorShape shape{1, channels, channels == 2 ? (int64_t)xs.size() : 48, layout};
      size_t count = (size_t)shape.numElements();
      std::vector<uint16_t> x16(count), dy16(count);
      std::vector<float> x32(count), dy32(count);
      for (size_t i = 0; i < count; ++i) {
        x16[i] = xs[i % xs.size()];
        dy16[i] = t->round(0.75 - 0.001 * (double)(i % 13));
        x32[i] = (float)t->widen(x16[i]);
        dy32[i] = (float)t->widen(dy16[i]);
      }
      // Every extra input gets the main input's values reversed.
      size_t numIn = a.inputs().size();
      std::vector<std::vector<uint16_t>> in16(numIn, x16);
      std::vector<std::vector<float>> in32(numIn, x32);
      for (size_t k = 1; k < numIn; ++k) {
        std::reverse(in16[k].begin(), in16[k].end());
        std::reverse(in32[k].begin(), in32[k].end());
      }
      // Parameters: their initial values (or 0.5) nudged per element, rounded to the
      // half type, the same values widened for float32.
      std::vector<std::vector<uint16_t>> p16;
      std::vector<std::vector<float>> p32;
      for (const act::ParamInfo &p : a.params()) {
        std::vector<double> v = p.init.empty()
                                    ? std::vector<double>((size_t)p.numValues(shape), 0.5)
                                    : p.initialValues(shape);
        p16.emplace_back();
        p32.emplace_back();
        for (size_t k = 0; k < v.size(); ++k) {
          p16.back().push_back(t->round(v[k] * (1 + 0.01 * (double)k)));
          p32.back().push_back((float)t->widen(p16.back().back()));
        }
      }
      auto ptrs = [](auto &vs) {
        std::vector<void *> out;
        for (auto &v : vs)
          out.push_back(v.data());
        return out;
      };
      std::vector<void *> in16p = ptrs(in16), in32p = ptrs(in32), p16p = ptrs(p16),
                          p32p = ptrs(p32);

      std::vector<uint16_t> y16(count);
      std::vector<float> y32(count);
      a.forward(t->dtype, shape, in16p.data(), y16.data(), p16p.data());
      a.forward(DType::F32, shape, in32p.data(), y32.data(), p32p.data());
      for (size_t i = 0; i < count; ++i) {
        INFO("forward x = " << fmt(x32[i]) << ": f32 " << fmt(y32[i]) << ", "
                            << t->name << " " << fmt(t->widen(y16[i])));
        REQUIRE(sameBits(y16[i], t->round(y32[i]), *t));
      }

      std::vector<std::vector<uint16_t>> dx16(numIn, std::vector<uint16_t>(count));
      std::vector<std::vector<float>> dx32(numIn, std::vector<float>(count));
      std::vector<std::vector<uint16_t>> dp16;
      std::vector<std::vector<float>> dp32;
      for (auto &p : p16) {
        dp16.emplace_back(p.size());
        dp32.emplace_back(p.size());
      }
      std::vector<void *> dx16p = ptrs(dx16), dx32p = ptrs(dx32), dp16p = ptrs(dp16),
                          dp32p = ptrs(dp32);
      a.backward(t->dtype, shape, in16p.data(), dy16.data(), dx16p.data(), dp16p.data(),
                 p16p.data());
      a.backward(DType::F32, shape, in32p.data(), dy32.data(), dx32p.data(), dp32p.data(),
                 p32p.data());
      for (size_t k = 0; k < numIn; ++k)
        for (size_t i = 0; i < count; ++i) {
          INFO("d/d" << a.inputs()[k] << " at x = " << fmt(x32[i]));
          REQUIRE(sameBits(dx16[k][i], t->round(dx32[k][i]), *t));
        }
      // Parameter gradients are rounded once from double in both; float32's own
      // rounding can move a tie, so one representable step apart is allowed.
      for (size_t p = 0; p < dp16.size(); ++p) {
        if (a.params()[p].isConst)
          continue;
        for (size_t k = 0; k < dp16[p].size(); ++k) {
          uint16_t want = t->round(dp32[p][k]);
          INFO("d/d" << a.params()[p].name << "[" << k << "]: f32 " << fmt(dp32[p][k])
                     << ", " << t->name << " " << fmt(t->widen(dp16[p][k])));
          if (std::isnan(dp32[p][k]) || std::isinf(dp32[p][k]))
            REQUIRE(sameBits(dp16[p][k], want, *t));
          else
            REQUIRE(ulpDistance(dp16[p][k], want) <= 1);
        }
      }
    }
  }
}

TEST_CASE("flushDenormals flushes subnormals to zero and leaves the caller's mode alone",
          "[ftz]") {
  const char *src = "act half_of(x) = x * 0.5";
  act::Module ieee = act::Module::compile(src);
  act::Module ftz = act::Module::compile(src, "<input>", act::CompileOptions{
                                                             act::Target::CPU, "", true});
  act::TensorShape shape{1, 1, 4};
  float x[4] = {2e-38f, -2e-38f, 1e-40f, 1.0f}, y[4];
  const float *in[] = {x};
  ieee.get("half_of").forward(shape, in, y);
  volatile float half = 0.5f;
  CHECK(y[0] == x[0] * half); // a subnormal result, kept
  CHECK(y[0] != 0.0f);
  CHECK(y[2] == x[2] * half); // a subnormal input, kept
  CHECK(y[2] != 0.0f);
  ftz.get("half_of").forward(shape, in, y);
  CHECK(y[0] == 0.0f); // flushed result (FTZ)
  CHECK(y[1] == 0.0f);
  CHECK(std::signbit(y[1]));
  CHECK(y[2] == 0.0f); // flushed input (DAZ)
  CHECK(y[3] == 0.5f);
  float dy[4] = {1, 1, 1, 1}, dx[4];
  float *din[] = {dx};
  ftz.get("half_of").backward(shape, in, dy, din, nullptr, nullptr, y);
  CHECK(y[0] == 0.0f);
  CHECK(dx[0] == 0.5f);
  // This thread computes subnormals again afterwards.
  volatile float tiny = 2e-38f;
  CHECK(tiny * half != 0.0f);
}

// actc eval: evaluate an activation at given points; one JSON object on stdout.
#include "Actc.h"

#include "act/act.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cmath>
#include <iostream>
#include <map>

using namespace actc;

namespace {

/// Shortest text that reads back as the same value in `T`; non-finite as strings.
template <typename T>
std::string jsonNumber(T v) {
  if (std::isnan(v))
    return "\"nan\"";
  if (std::isinf(v))
    return v > 0 ? "\"inf\"" : "\"-inf\"";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

/// A float16 or bfloat16 value in its 16 bits, converted to and from double with one
/// rounding, so evaluate<T> can treat every element type alike.
template <act::DType D>
struct Half {
  uint16_t bits = 0;
  Half() = default;
  Half(double v) : bits(D == act::DType::F16 ? act::toFloat16(v) : act::toBFloat16(v)) {}
  operator double() const {
    return D == act::DType::F16 ? act::fromFloat16(bits) : act::fromBFloat16(bits);
  }
};
using Float16 = Half<act::DType::F16>;
using BFloat16 = Half<act::DType::BF16>;

template <act::DType D>
std::string jsonNumber(Half<D> v) {
  return jsonNumber((float)(double)v); // exact in float; shortest float text
}

template <typename T> constexpr act::DType dtypeOf = act::DType::F32;
template <> constexpr act::DType dtypeOf<double> = act::DType::F64;
template <> constexpr act::DType dtypeOf<Float16> = act::DType::F16;
template <> constexpr act::DType dtypeOf<BFloat16> = act::DType::BF16;

template <typename T>
std::string jsonArray(const std::vector<T> &values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i)
    out += (i ? ", " : "") + jsonNumber(values[i]);
  return out + "]";
}

std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

/// "NAME=V1,V2" -> (NAME, values).
std::pair<std::string, std::vector<double>> parseAssignment(const std::string &text,
                                                            const std::string &opt) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError{opt + " expects NAME=VALUE, got '" + text + "'"};
  std::string name = text.substr(0, eq);
  return {name, parseNumberList(text.substr(eq + 1), opt + " " + name)};
}

/// {"a": [..], "b": [[..], ..]}: one entry per name, one value (or one table) per point.
template <typename T>
std::string jsonObject(const std::vector<std::string> &names,
                       const std::vector<std::vector<std::vector<T>>> &values) {
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    out += (i ? ", " : "") + jsonString(names[i]) + ": [";
    for (size_t k = 0; k < values[i].size(); ++k) {
      const std::vector<T> &v = values[i][k];
      out += (k ? ", " : "") + (v.size() == 1 ? jsonNumber(v[0]) : jsonArray(v));
    }
    out += "]";
  }
  return out + "}";
}

template <typename T>
int evaluate(const act::Activation &fn, const std::string &dtypeName, bool grad,
             unsigned order,
             const std::vector<double> &xs,
             const std::map<std::string, std::vector<double>> &paramValues,
             const std::map<std::string, std::vector<double>> &inputValues) {
  // The points form one sample, one channel, xs.size() positions.
  act::TensorShape shape{1, 1, (int64_t)xs.size(), act::Layout::NCS};
  size_t count = xs.size();
  std::vector<std::vector<T>> inputs(fn.inputs().size());
  inputs[0].assign(xs.begin(), xs.end());
  for (size_t i = 1; i < fn.inputs().size(); ++i) {
    auto it = inputValues.find(fn.inputs()[i]);
    if (it == inputValues.end())
      throw UsageError{"'" + fn.name() + "' has a second input '" + fn.inputs()[i] +
                       "'; pass it with --input " + fn.inputs()[i] + "=V1,V2,..."};
    const std::vector<double> &v = it->second;
    if (v.size() != 1 && v.size() != count)
      throw UsageError{"--input " + fn.inputs()[i] + " has " + std::to_string(v.size()) +
                       " values; expected 1 or " + std::to_string(count) +
                       " (one per --x point)"};
    for (size_t k = 0; k < count; ++k)
      inputs[i].push_back((T)v[v.size() == 1 ? 0 : k]);
  }
  for (const auto &[name, _] : inputValues)
    if (name == fn.inputs()[0] ||
        std::find(fn.inputs().begin(), fn.inputs().end(), name) == fn.inputs().end())
      throw UsageError{"'" + fn.name() + "' has no extra input named '" + name + "'"};

  std::vector<std::vector<T>> params(fn.params().size());
  for (size_t p = 0; p < fn.params().size(); ++p) {
    std::vector<double> v = paramValuesFor(fn, fn.params()[p], shape, paramValues);
    params[p].assign(v.begin(), v.end());
  }
  for (const auto &[name, _] : paramValues)
    if (!fn.findParam(name))
      throw UsageError{"'" + fn.name() + "' has no parameter named '" + name + "'"};

  std::vector<const T *> inPtrs, paramPtrs;
  for (auto &v : inputs)
    inPtrs.push_back(v.data());
  for (auto &v : params)
    paramPtrs.push_back(v.data());
  std::vector<T> y(count);
  constexpr act::DType dt = dtypeOf<T>;
  auto in = [](auto &v) { return reinterpret_cast<const void *const *>(v.data()); };
  auto out = [](auto &v) { return reinterpret_cast<void *const *>(v.data()); };
  fn.forward(dt, shape, in(inPtrs), y.data(), in(paramPtrs));

  std::cout << "{\"fn\": " << jsonString(fn.name()) << ", \"dtype\": \"" << dtypeName
            << "\", \"x\": " << jsonArray(inputs[0]) << ", \"y\": " << jsonArray(y);
  if (grad) {
    // Each point on its own (a one-element tensor with dy = 1), so every gradient is
    // the derivative at that point, before any reduction over points.
    act::TensorShape one{1, 1, 1, act::Layout::NCS};
    size_t numIn = fn.inputs().size(), numParams = fn.params().size();
    std::vector<std::vector<std::vector<T>>> dinputs(numIn), dparams;
    std::vector<std::string> paramNames;
    std::vector<size_t> learnable;
    for (size_t p = 0; p < numParams; ++p)
      if (!fn.params()[p].isConst) {
        learnable.push_back(p);
        paramNames.push_back(fn.params()[p].name);
      }
    dparams.resize(learnable.size());
    for (size_t k = 0; k < count; ++k) {
      std::vector<const T *> at;
      for (auto &v : inputs)
        at.push_back(&v[k]);
      T dy = 1;
      std::vector<T> din(numIn);
      std::vector<T *> dinPtrs;
      for (T &d : din)
        dinPtrs.push_back(&d);
      std::vector<std::vector<T>> dp(numParams);
      std::vector<T *> dpPtrs(numParams, nullptr);
      for (size_t p : learnable) {
        dp[p].resize((size_t)fn.params()[p].numValues(one));
        dpPtrs[p] = dp[p].data();
      }
      fn.backward(dt, one, in(at), &dy, out(dinPtrs), out(dpPtrs), in(paramPtrs));
      for (size_t i = 0; i < numIn; ++i)
        dinputs[i].push_back({din[i]});
      for (size_t j = 0; j < learnable.size(); ++j)
        dparams[j].push_back(dp[learnable[j]]);
    }
    std::vector<T> dx;
    for (auto &v : dinputs[0])
      dx.push_back(v[0]);
    std::cout << ", \"dx\": " << jsonArray(dx);
    if (numIn > 1)
      std::cout << ", \"dinputs\": "
                << jsonObject(std::vector<std::string>(fn.inputs().begin() + 1,
                                                       fn.inputs().end()),
                              std::vector<std::vector<std::vector<T>>>(
                                  dinputs.begin() + 1, dinputs.end()));
    std::cout << ", \"dparams\": " << jsonObject(paramNames, dparams);
  }
  if (order >= 2) { // higher derivatives in the main input, elementwise
    std::vector<std::vector<T>> outs(order + 1, std::vector<T>(count));
    std::vector<T *> outPtrs;
    for (auto &o : outs)
      outPtrs.push_back(o.data());
    fn.derivatives(dt, order, shape, in(inPtrs), out(outPtrs), in(paramPtrs));
    for (unsigned k = 2; k <= order; ++k)
      std::cout << ", \"d" << k << "x\": " << jsonArray(outs[k]);
  }
  std::cout << "}\n";
  return 0;
}

} // namespace

int actc::runEval(Args &args) {
  std::string path, source, fn, dtype = "f32";
  std::vector<double> xs;
  bool haveX = false, grad = false;
  unsigned order = 1;
  std::map<std::string, std::vector<double>> params, inputs;
  while (!args.empty()) {
    std::string v;
    if (args.option("-e", v)) {
      source = v;
      path = "<command line>";
    } else if (args.option("--fn", v)) {
      fn = v;
    } else if (args.option("--x", v)) {
      xs = parseNumberList(v, "--x");
      haveX = true;
    } else if (args.option("--param", v)) {
      params.insert(parseAssignment(v, "--param"));
    } else if (args.option("--input", v)) {
      inputs.insert(parseAssignment(v, "--input"));
    } else if (args.option("--dtype", v)) {
      dtype = v;
    } else if (args.flag("--grad")) {
      grad = true;
    } else if (args.option("--order", v)) {
      char *end = nullptr;
      long k = std::strtol(v.c_str(), &end, 10);
      if (*end || k < 1 || k > 8)
        throw UsageError{"--order must be an integer from 1 to 8 (got '" + v + "')"};
      order = (unsigned)k;
      grad = true;
    } else if (args.peek().size() > 1 && args.peek()[0] == '-') {
      throw UsageError{"unknown option '" + args.peek() + "' for eval"};
    } else if (path.empty()) {
      path = args.next();
      source = readFile(path);
    } else {
      throw UsageError{"unexpected argument '" + args.peek() + "'"};
    }
  }
  if (path.empty())
    throw UsageError{"eval needs a FILE or -e 'act f(x) = ...'"};
  if (!haveX)
    throw UsageError{"eval needs the points: --x -2,-1,0,1,2"};
  if (dtype != "f32" && dtype != "f64" && dtype != "f16" && dtype != "bf16")
    throw UsageError{"--dtype must be f32, f64, f16 or bf16 (got '" + dtype + "')"};

  act::Module module = act::Module::compile(source, path);
  if (fn.empty()) {
    if (module.names().size() != 1) {
      std::string names;
      for (const std::string &n : module.names())
        names += (names.empty() ? "" : ", ") + n;
      throw UsageError{"choose an activation with --fn (" + names + ")"};
    }
    fn = module.names()[0];
  }
  const act::Activation &a = module.get(fn);
  if (dtype == "f32")
    return evaluate<float>(a, dtype, grad, order, xs, params, inputs);
  if (dtype == "f16")
    return evaluate<Float16>(a, dtype, grad, order, xs, params, inputs);
  if (dtype == "bf16")
    return evaluate<BFloat16>(a, dtype, grad, order, xs, params, inputs);
  return evaluate<double>(a, dtype, grad, order, xs, params, inputs);
}

// actc: shared pieces of the command-line driver's subcommands.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace actc {

/// Thrown for usage and input errors; main prints "actc: error: <msg>" and exits 1.
struct UsageError {
  std::string message;
};

/// Command-line arguments after the subcommand, consumed front to back.
class Args {
public:
  explicit Args(std::vector<std::string> args) : args(std::move(args)) {}
  bool empty() const { return pos >= args.size(); }
  const std::string &peek() const { return args[pos]; }
  std::string next() { return args[pos++]; }
  /// For "--name VALUE" and "--name=VALUE": true and `value` set when the next
  /// argument is that option.
  bool option(const std::string &name, std::string &value);
  bool flag(const std::string &name);
  /// The end of an option loop: takes the next argument as the FILE when `path` is
  /// still empty; otherwise (or for an unknown option) a UsageError naming `command`.
  void fileOrError(std::string &path, const std::string &command);

private:
  std::vector<std::string> args;
  size_t pos = 0;
};

/// The contents of a file, or a UsageError naming it.
std::string readFile(const std::string &path);
/// "1,2,-3.5" -> numbers; a UsageError naming `what` on bad input.
std::vector<double> parseNumberList(const std::string &text, const std::string &what);

} // namespace actc

namespace act {
class Activation;
struct ParamInfo;
struct TensorShape;
}

namespace actc {
/// The values of parameter `p` of `a` for `shape` from `--param` settings: the given
/// value broadcast (one value) or taken as is (numValues(shape) of them), else the
/// declared initial value; a UsageError otherwise.
std::vector<double> paramValuesFor(const act::Activation &a, const act::ParamInfo &p,
                                   const act::TensorShape &shape,
                                   const std::map<std::string, std::vector<double>> &given);
} // namespace actc

namespace actc {

/// Worst relative error of compiled float64 derivatives against central
/// differences over a grid and random points, at initial and random parameters.
struct GradcheckResult {
  double worstInput = 0, worstParam = 0;
  size_t checked = 0, kinks = 0;
};
GradcheckResult gradcheck(const act::Activation &a, unsigned seed = 1);

/// Float32 results against float64 ones of one quantity (f or f') over many points.
struct AccuracyStats {
  struct Point {
    double ulps = 0, ratio = 0, condRatio = 0; ///< ratio: error / budget
  };
  /// One point: the float32 result, the float64 one and its derivative (for the
  /// condition number). Failures are collected with a few examples.
  Point add(double x, double got, double ref, double dref);
  void fail(double x, double got, double ref, const std::string &why);
  std::string status() const;

  double worstUlps = 0, worstRel = 0, worstCondRatio = 0, worstX = 0;
  size_t count = 0, conditioned = 0, failures = 0;
  std::vector<std::string> examples;
};
struct AccuracyResult {
  AccuracyStats forward, derivative;
};
/// Float32 f and f' of `a` against its float64 kernels (docs/numerics.md).
AccuracyResult accuracy(const act::Activation &a);

int runAccuracy(Args &args);
int runEval(Args &args);
int runGradcheck(Args &args);
int runBench(Args &args);
int runTour(Args &args);
int runSearch(Args &args);
int runPlot(Args &args);

} // namespace actc

// actc: the act command-line driver (check, emit, eval, grad, plot, tour, ...).
#include "Actc.h"

#include "act/Pipeline/Pipeline.h"
#include "act/act.h"

#include "mlir/IR/MLIRContext.h"

#include <fmt/core.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <algorithm>
#include <iostream>
#include <sstream>

namespace actc {

bool Args::option(const std::string &name, std::string &value) {
  if (empty())
    return false;
  const std::string &a = args[pos];
  if (a == name) {
    if (pos + 1 >= args.size())
      throw UsageError{"option " + name + " needs a value"};
    value = args[pos + 1];
    pos += 2;
    return true;
  }
  if (a.compare(0, name.size() + 1, name + "=") == 0) {
    value = a.substr(name.size() + 1);
    ++pos;
    return true;
  }
  return false;
}

void Args::fileOrError(std::string &path, const std::string &command) {
  const std::string &a = peek();
  if (a.size() > 1 && a[0] == '-')
    throw UsageError{"unknown option '" + a + "' for " + command};
  if (!path.empty())
    throw UsageError{"unexpected argument '" + a + "'"};
  path = next();
}

bool Args::flag(const std::string &name) {
  if (!empty() && args[pos] == name) {
    ++pos;
    return true;
  }
  return false;
}

std::vector<double> paramValuesFor(const act::Activation &a, const act::ParamInfo &p,
                                   const act::TensorShape &shape,
                                   const std::map<std::string, std::vector<double>> &given) {
  size_t count = (size_t)p.numValues(shape);
  auto it = given.find(p.name);
  if (it == given.end()) {
    if (p.init.empty())
      throw UsageError{"parameter '" + p.name + "' of '" + a.name() +
                       "' has no initial value; pass --param " + p.name + "=VALUE"};
    return p.initialValues(shape);
  }
  if (it->second.size() == 1)
    return std::vector<double>(count, it->second[0]);
  if (it->second.size() == count)
    return it->second;
  throw UsageError{fmt::format("--param {} has {} values; '{}' declares {}{}, which takes 1 "
                               "or {}",
                               p.name, it->second.size(), a.name(), p.name, p.shape(), count)};
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw UsageError{"cannot open '" + path + "': " + std::strerror(errno)};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<double> parseNumberList(const std::string &text, const std::string &what) {
  std::vector<double> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos)
      end = text.size();
    std::string item = text.substr(start, end - start);
    while (!item.empty() && item.front() == ' ')
      item.erase(item.begin());
    while (!item.empty() && item.back() == ' ')
      item.pop_back();
    char *stop = nullptr;
    errno = 0;
    double v = item.empty() ? 0 : std::strtod(item.c_str(), &stop);
    if (item.empty() || *stop != '\0')
      throw UsageError{"bad number '" + item + "' in " + what};
    out.push_back(v);
    start = end + 1;
  }
  return out;
}

} // namespace actc

using namespace actc;

namespace {

/// A source file compiled to the act dialect, with MLIR diagnostics collected;
/// fail() throws them as a CompileError.
struct ActSession {
  std::string path, source;
  mlir::MLIRContext ctx{mlir::MLIRContext::Threading::DISABLED};
  std::vector<act::Diagnostic> diags;
  std::unique_ptr<act::DiagnosticCollector> collect;
  act::ast::File file;
  mlir::OwningOpRef<mlir::ModuleOp> module;

  explicit ActSession(const std::string &path) : path(path), source(readFile(path)) {
    mlir::DialectRegistry registry;
    act::registerAllDialects(registry);
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
    collect = std::make_unique<act::DiagnosticCollector>(ctx, diags, &source);
    module = act::compileToAct(ctx, source, path, file, diags);
    if (!module)
      fail();
  }
  [[noreturn]] void fail() {
    if (diags.empty())
      diags.push_back({act::Diagnostic::Severity::Error, path, 0, 0, "compilation failed", ""});
    throw act::CompileError(diags);
  }
  /// Erases every activation but `fn`.
  void keepOnly(const std::string &fn) {
    bool found = false;
    for (auto &op : llvm::make_early_inc_range(module->getBody()->getOperations())) {
      auto sym = op.getAttrOfType<mlir::StringAttr>("sym_name");
      if (sym && sym.getValue() == fn)
        found = true;
      else
        op.erase();
    }
    if (!found)
      throw UsageError{"no activation named '" + fn + "' in " + path};
  }
};

unsigned parseOrder(const std::string &v) {
  char *end = nullptr;
  long k = std::strtol(v.c_str(), &end, 10);
  if (*end || k < 1 || k > 8)
    throw UsageError{"--order must be an integer from 1 to 8 (got '" + v + "')"};
  return (unsigned)k;
}

const char *kUsage = R"(actc - the act activation compiler

Usage:
  actc check FILE                       parse and verify; report errors
  actc emit --emit=STAGE FILE [--fn NAME] [--order K] [--chip sm_XX]
            [--dtype f32|f64]           print a pipeline stage: ast, act, grad
                                          (with derivative bodies; --order K for
                                          f, f', ..., f^(K)), kernels, llvm-dialect,
                                          llvm (--dtype: one element type's
                                          kernels; default both), ptx (GPU kernels
                                          for --chip, sm_90)
  actc eval FILE --fn NAME --x LIST [--param NAME=V[,V...]]...
            [--input NAME=LIST]... [--dtype f32|f64|f16|bf16] [--grad] [--order K]
  actc eval -e 'act f(x) = ...' --x LIST ...
                                        evaluate; prints one JSON object
                                        (--grad adds dx and dparams per point;
                                        --order K adds d2x ... dKx)
  actc grad FILE [--fn NAME] [--order K] print the derivative as formulas
  actc gradcheck FILE [--fn NAME] [--tol T]
                                        compare derivatives with float64 central
                                        differences; exit 1 above tolerance (1e-5)
  actc accuracy FILE [--fn NAME] [--verbose]
                                        float32 f and f' against float64 on a dense
                                        grid and the extremes; exit 1 over budget
                                        (4 ulp or 1e-6 relative, docs/numerics.md)
  actc bench FILE [--fn A,B] [--size N] [--channels C] [--threads T]
             [--layout ncs|nsc] [--target cpu|cuda] [--reps R]
             [--range LO,HI] [--flush-denormals] [--peers none|all|loop,halide,torch]
                                        forward/backward time against memcpy (or a
                                        device copy) of the same bytes and against
                                        the installed peers, same run (loop and
                                        halide also head to head with act, timed
                                        in the same rounds)
  actc plot FILE --fn A[,B] -o OUT.svg [--param NAME=V]... [--range LO:HI]
            [--order 0,1,2]           f, f', f'' from the kernels as SVG (and PNG
                                        with rsvg-convert); actc plot --help
  actc tour [DIR] [--plots PDIR | --no-plots]
                                        compile every DIR/*.act (default: examples),
                                        print a table of each activation and plot
                                        each into PDIR (default: act-plots)
  actc search [--space swish|FILE.act] [--units 1|2] [--epochs E] [--db FILE]
              [--shard I/N] ...         enumerate, screen and train candidates on
                                        Fashion-MNIST into SQLite (resumable)
  actc search report DB... [--top K]   merge search databases and rank them
                                        (actc search --help for every option)
  actc --help | --version

Errors are printed as FILE:LINE:COL: error: MESSAGE with the line and a caret;
every error exits with status 1.
)";

int runCheck(Args &args) {
  if (args.empty())
    throw UsageError{"check needs a FILE"};
  std::string path = args.next();
  if (!args.empty())
    throw UsageError{"unexpected argument '" + args.peek() + "'"};
  act::Module m = act::Module::compile(readFile(path), path);
  std::cout << path << ": " << m.names().size() << " activation"
            << (m.names().size() == 1 ? "" : "s") << ", no errors\n";
  return 0;
}

/// Each element type's kernels lowered on their own, as the JIT lowers them:
/// act-expand picks float32's approximations only for a module without float64
/// kernels. A second type is lowered in a copy whose kernels follow the first's.
mlir::LogicalResult lowerKernelsPerDtype(mlir::ModuleOp module,
                                         const std::vector<std::string> &dtypes) {
  mlir::OwningOpRef<mlir::ModuleOp> second;
  if (dtypes.size() == 2)
    second = module.clone();
  if (mlir::failed(act::lowerToKernels(module, act::KernelOptions{{dtypes[0]}})))
    return mlir::failure();
  if (!second)
    return mlir::success();
  if (mlir::failed(act::lowerToKernels(*second, act::KernelOptions{{dtypes[1]}})))
    return mlir::failure();
  for (mlir::Operation &op : llvm::make_early_inc_range(second->getBody()->getOperations()))
    op.moveBefore(module.getBody(), module.getBody()->end());
  return mlir::success();
}

int runEmit(Args &args) {
  std::string stage, path, fn, chip = "sm_90";
  std::vector<std::string> dtypes = {"f32", "f64"};
  unsigned order = 1;
  while (!args.empty()) {
    std::string v;
    if (args.option("--emit", v))
      stage = v;
    else if (args.option("--dtype", v)) {
      if (v != "f32" && v != "f64")
        throw UsageError{"--dtype must be f32 or f64 (got '" + v + "')"};
      dtypes = {v};
    }
    else if (args.option("--chip", v))
      chip = v;
    else if (args.option("--order", v))
      order = parseOrder(v);
    else if (args.option("--fn", v))
      fn = v;
    else
      args.fileOrError(path, "emit");
  }
  if (path.empty())
    throw UsageError{"emit needs a FILE"};
  // grad sits beside act: the act module plus the derivative bodies.
  static const char *stages[] = {"ast", "act", "kernels", "llvm-dialect", "llvm", "grad",
                                 "ptx"};
  int level = -1;
  for (int i = 0; i < 7; ++i)
    if (stage == stages[i])
      level = i;
  if (level < 0)
    throw UsageError{"--emit must be one of ast, act, grad, kernels, llvm-dialect, llvm, "
                     "ptx (got '" + stage + "')"};
  bool ptx = level == 6;
  if (ptx && (chip.rfind("sm_", 0) != 0 || chip.size() < 5))
    throw UsageError{"--chip must name an NVIDIA architecture such as sm_90 (got '" + chip +
                     "')"};
  if (ptx)
    level = 1;
  bool grad = level == 5;
  if (grad)
    level = 1;

  ActSession session(path);
  auto &module = session.module;
  auto fail = [&]() { session.fail(); };
  if (level == 0) {
    std::cout << act::ast::dump(session.file);
    return 0;
  }
  if (!fn.empty())
    session.keepOnly(fn);
  if (mlir::failed(act::simplifyAct(*module)))
    fail();
  if (ptx) {
    std::string text = act::lowerToPTX(*module, chip);
    if (text.empty())
      fail();
    std::cout << text;
    return 0;
  }
  // Kernels include backward ones, so derivatives are taken for every later stage.
  if ((grad || level >= 2) && mlir::failed(act::differentiate(*module, grad ? order : 1)))
    fail();
  if (level >= 2 && mlir::failed(lowerKernelsPerDtype(*module, dtypes)))
    fail();
  if (level >= 3 && mlir::failed(act::lowerToLLVMDialect(*module)))
    fail();
  if (level == 4) {
    std::string ir = act::translateToLLVMIR(*module);
    if (ir.empty())
      fail();
    std::cout << ir;
    return 0;
  }
  std::string out;
  llvm::raw_string_ostream os(out);
  module->print(os);
  std::cout << out << "\n";
  return 0;
}

/// actc grad: the derivative of one activation as readable formulas.
int runGrad(Args &args) {
  std::string path, fn;
  unsigned order = 1;
  while (!args.empty()) {
    std::string v;
    if (args.option("--fn", v))
      fn = v;
    else if (args.option("--order", v))
      order = parseOrder(v);
    else
      args.fileOrError(path, "grad");
  }
  if (path.empty())
    throw UsageError{"grad needs a FILE"};
  ActSession session(path);
  if (fn.empty()) {
    if (session.file.defs.size() != 1)
      throw UsageError{"choose an activation with --fn"};
    fn = session.file.defs[0].name;
  }
  session.keepOnly(fn);
  // Without the zero-adjoint guards: they keep NaN out of kernels but only clutter
  // the formula.
  if (mlir::failed(act::simplifyAct(*session.module)) ||
      mlir::failed(act::differentiate(*session.module, order, /*guard=*/false)))
    session.fail();
  std::string gradName = fn + (order == 1 ? "__grad" : "__grad" + std::to_string(order));
  mlir::Operation *grad = session.module->lookupSymbol(gradName);
  const act::ast::Definition *def = session.file.find(fn);
  std::cout << (def ? def->text : fn) << "\n" << act::printFormulas(grad);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> all(argv + 1, argv + argc);
  if (all.empty() || all[0] == "--help" || all[0] == "-h" || all[0] == "help") {
    std::cout << kUsage;
    return all.empty() ? 1 : 0;
  }
  if (all[0] == "--version") {
    std::cout << "actc (act) " << act::version() << "\n";
    return 0;
  }
  std::string cmd = all[0];
  // `actc CMD --help`: plot and search have their own; the others are in the usage.
  if (cmd != "plot" && cmd != "search" &&
      std::any_of(all.begin() + 1, all.end(),
                  [](const std::string &a) { return a == "--help" || a == "-h"; })) {
    std::cout << kUsage;
    return 0;
  }
  Args args(std::vector<std::string>(all.begin() + 1, all.end()));
  try {
    if (cmd == "check")
      return runCheck(args);
    if (cmd == "emit")
      return runEmit(args);
    if (cmd == "eval")
      return runEval(args);
    if (cmd == "tour")
      return runTour(args);
    if (cmd == "plot")
      return runPlot(args);
    if (cmd == "grad")
      return runGrad(args);
    if (cmd == "bench")
      return runBench(args);
    if (cmd == "gradcheck")
      return runGradcheck(args);
    if (cmd == "accuracy")
      return runAccuracy(args);
    if (cmd == "search")
      return runSearch(args);
    throw UsageError{"unknown command '" + cmd +
                     "' (expected check, emit, eval, grad, gradcheck, accuracy, bench, plot, tour or search; see actc --help)"};
  } catch (const act::CompileError &e) {
    std::cerr << act::formatDiagnostics(e.diagnostics());
    return 1;
  } catch (const act::Error &e) {
    std::cerr << "actc: error: " << e.what() << "\n";
    return 1;
  } catch (const UsageError &e) {
    std::cerr << "actc: error: " << e.message << "\n";
    return 1;
  }
}

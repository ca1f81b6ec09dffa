// act runtime: the public API (Module, Activation) over the compiler and the JIT:
// compiling and looking up activations. Kernel calls are in KernelCalls.cpp, device
// launches in CudaLaunch.cpp, the shared state in ModuleImpl.h.
#include "act/act.h"

#include "ModuleImpl.h"
#include "ThreadPool.h"

#include "act/Dialect/ActOps.h"
#include "act/Parse/Parser.h"
#include "act/Pipeline/Pipeline.h"

#include "act/cuda.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"

#include <atomic>
#include <fstream>
#include <set>
#include <map>
#include <mutex>
#include <sstream>

using namespace act;
using detail::Compiled;

const char *act::version() { return ACT_VERSION; }

void act::setNumThreads(unsigned threads) { detail::ThreadPool::resizeGlobal(threads); }
unsigned act::numThreads() { return detail::ThreadPool::global().size(); }

//===----------------------------------------------------------------------===//
// ParamInfo
//===----------------------------------------------------------------------===//

std::string ParamInfo::shape() const {
  ast::Shape s{perSample, perChannel, tableLength};
  return s.str();
}

int64_t ParamInfo::numValues(const TensorShape &t) const {
  return (perSample ? t.n : 1) * (perChannel ? t.c : 1) * std::max<int64_t>(tableLength, 1);
}

std::vector<double> ParamInfo::initialValues(const TensorShape &t) const {
  if (init.empty())
    throw Error("parameter '" + name + "' has no initial value; pass its values");
  int64_t count = numValues(t);
  std::vector<double> out((size_t)count);
  size_t period = init.size();
  for (int64_t i = 0; i < count; ++i)
    out[(size_t)i] = init[(size_t)i % period]; // one value, or one table row repeated
  return out;
}

CompileError::CompileError(std::vector<Diagnostic> diagnostics)
    : Error(diagnostics.empty() ? std::string("compilation failed")
                                : formatDiagnostics(diagnostics)),
      diags(std::move(diagnostics)) {}

//===----------------------------------------------------------------------===//
// Module
//===----------------------------------------------------------------------===//

Module::Module(std::shared_ptr<Impl> impl) : impl(std::move(impl)) {}
Module::Module(Module &&) noexcept = default;
Module &Module::operator=(Module &&) noexcept = default;
Module::~Module() = default;

namespace {
/// JIT-compiles a trivial activation once per process, before the first Module
/// exists. LLVM creates function-local statics on its first JIT; doing that here,
/// inside Module::compile, makes them outlive every Module (even one held in a static
/// variable), so no ExecutionEngine is destroyed after them at exit.
void warmUpJIT() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto compiled = std::make_shared<Compiled>();
    mlir::DialectRegistry registry;
    registerAllDialects(registry);
    compiled->ctx.appendDialectRegistry(registry);
    compiled->ctx.loadAllAvailableDialects();
    std::vector<Diagnostic> diags;
    ast::File file;
    compiled->module = compileToAct(compiled->ctx, "act warmup(x) = x", "<warm-up>", file,
                                    diags);
    if (compiled->module)
      detail::KernelSet::build(*compiled->module, "warmup", DType::F32, 1,
                               detail::layoutBit(Layout::NCS) | detail::kForward,
                               detail::cacheDirectory(CompileOptions{}));
  });
}
} // namespace

Module Module::compile(std::string_view source, std::string filename,
                       const CompileOptions &options) {
  warmUpJIT();
  auto impl = std::make_shared<Impl>();
  impl->options = options;
  Compiled &c = *impl->compiled;
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  c.ctx.appendDialectRegistry(registry);
  c.ctx.loadAllAvailableDialects();

  std::vector<Diagnostic> diags;
  std::string text(source);
  ast::File file;
  {
    DiagnosticCollector collect(c.ctx, diags, &text);
    c.module = compileToAct(c.ctx, text, filename, file, diags);
    if (c.module && mlir::failed(simplifyAct(*c.module)))
      c.module = nullptr;
  }
  if (!c.module) {
    if (diags.empty())
      diags.push_back(Diagnostic{Diagnostic::Severity::Error, filename, 0, 0,
                                 "compilation failed", ""});
    throw CompileError(std::move(diags));
  }

  for (const ast::Definition &def : file.defs) {
    Activation a;
    a.impl = std::make_shared<Activation::Impl>();
    a.impl->compiled = impl->compiled;
    a.impl->options = options;
    a.impl->name = def.name;
    a.impl->formula = def.text;
    for (const ast::Input &in : def.inputs)
      a.impl->inputs.push_back(in.name);
    for (const ast::Param &p : def.params)
      a.impl->params.push_back(ParamInfo{p.name, p.shape.perSample, p.shape.perChannel,
                                         p.shape.tableLen, p.isConst, p.init});
    impl->names.push_back(def.name);
    impl->activations.push_back(std::move(a));
  }
  return Module(std::move(impl));
}

Module Module::compileFile(const std::string &path, const CompileOptions &options) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw CompileError({Diagnostic{Diagnostic::Severity::Error, path, 0, 0,
                                   "cannot open file", ""}});
  std::stringstream ss;
  ss << in.rdbuf();
  return compile(ss.str(), path, options);
}

const std::vector<std::string> &Module::names() const { return impl->names; }

const Activation *Module::find(std::string_view name) const {
  for (const Activation &a : impl->activations)
    if (a.name() == name)
      return &a;
  return nullptr;
}

const Activation &Module::get(std::string_view name) const {
  if (const Activation *a = find(name))
    return *a;
  std::string msg = "no activation named '" + std::string(name) + "'";
  std::string close = parse::closestMatch(std::string(name), impl->names);
  if (!close.empty())
    msg += "; did you mean '" + close + "'?";
  throw Error(msg);
}

void Module::compileKernels(DType dtype, const std::vector<std::string> &names) {
  compileKernels(dtype, names, KernelSelection{});
}

void Module::compileKernels(DType dtype, const std::vector<std::string> &names,
                            const KernelSelection &which) {
  unsigned parts = (which.ncs ? detail::layoutBit(Layout::NCS) : 0) |
                   (which.nsc ? detail::layoutBit(Layout::NSC) : 0) |
                   (which.forward ? detail::kForward : 0) |
                   (which.backward ? detail::kBackward : 0) |
                   (which.fused ? detail::kForwardBackward : 0) |
                   (which.quick ? detail::kQuick : 0);
  if (!(parts & detail::kBothLayouts) || !(parts & detail::kAllKinds))
    return;
  if (impl->options.target != Target::CPU)
    throw Error("compileKernels: the module was compiled for CUDA; kernels are built "
                "on the first launch()");
  std::vector<Activation::Impl *> chosen;
  std::set<std::string> seen;
  for (const std::string &name : names.empty() ? impl->names : names)
    if (seen.insert(name).second)
      chosen.push_back(get(name).impl.get());
  std::lock_guard<std::mutex> lock(impl->compiled->mutex);
  std::vector<Activation::Impl *> todo;
  std::vector<std::string> todoNames;
  for (Activation::Impl *a : chosen)
    if (!a->hasKernels(dtype, parts)) {
      todo.push_back(a);
      todoNames.push_back(a->name);
    }
  std::vector<std::unique_ptr<detail::KernelSet>> sets = detail::KernelSet::buildBatch(
      *impl->compiled->module, todoNames, dtype, detail::cacheDirectory(impl->options),
      nullptr, parts);
  for (size_t i = 0; i < todo.size(); ++i)
    todo[i]->setKernels(dtype, parts, std::move(sets[i]));
}

//===----------------------------------------------------------------------===//
// Activation
//===----------------------------------------------------------------------===//

const std::string &Activation::name() const { return impl->name; }
const std::string &Activation::formula() const { return impl->formula; }
std::string Activation::canonicalForm() const {
  std::lock_guard<std::mutex> lock(impl->compiled->mutex);
  return printCanonical(impl->compiled->module->lookupSymbol(impl->name));
}
const std::vector<std::string> &Activation::inputs() const { return impl->inputs; }
const std::vector<ParamInfo> &Activation::params() const { return impl->params; }
const ParamInfo *Activation::findParam(std::string_view name) const {
  for (const ParamInfo &p : impl->params)
    if (p.name == name)
      return &p;
  return nullptr;
}


// act: the compilation pipeline, stage by stage (the rungs of `actc emit --emit=`).
//
//   source --parse/check--> AST --mlirGen--> act --canonicalize--> act
//          --act-expand + convert-act-to-kernels--> kernels --act-kernels-to-llvm-->
//          LLVM dialect --translate--> LLVM IR --ExecutionEngine--> machine code
#pragma once

#include "act/Diagnostic.h"
#include "act/Parse/AST.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <memory>
#include <string>
#include <vector>

namespace act {

/// Every dialect and translation act's pipeline produces or consumes.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Turns MLIR diagnostics emitted while alive into act::Diagnostics (no stderr).
class DiagnosticCollector {
public:
  DiagnosticCollector(mlir::MLIRContext &ctx, std::vector<Diagnostic> &out,
                      const std::string *source = nullptr);
  ~DiagnosticCollector();

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// Parses and checks `source`, then emits and verifies the act module. The AST is
/// kept in `ast` (for --emit=ast and for the API's parameter listing). Null on error.
mlir::OwningOpRef<mlir::ModuleOp> compileToAct(mlir::MLIRContext &ctx,
                                               const std::string &source,
                                               const std::string &filename,
                                               ast::File &ast,
                                               std::vector<Diagnostic> &diags);

/// Canonicalize + CSE on act bodies (folders, x*1, smooth_max(a, a) ...).
mlir::LogicalResult simplifyAct(mlir::ModuleOp module);

/// act-autodiff (then canonicalize + CSE): adds `@f__grad` (order 1: f, d/dinputs,
/// d/dparams) or `@f__gradK` (f, f', ..., f^(K) in the main input) per activation.
/// `guardZeroAdjoints = false` drops the no-NaN-leak guards (for printing formulas).
mlir::LogicalResult differentiate(mlir::ModuleOp module, unsigned order = 1,
                                  bool guardZeroAdjoints = true);

/// The derivative body `grad` (from act-autodiff) as readable formulas, one line per
/// result, with shared subexpressions bound to names first.
std::string printFormulas(mlir::Operation *grad);

/// An activation's (simplified) body as one canonical formula: sugar expanded, sums,
/// products, max and min flattened with constants folded and operands sorted
/// (Canonical.cpp). Equal text means equal functions.
std::string printCanonical(mlir::Operation *activation);

struct KernelOptions {
  std::vector<std::string> dtypes = {"f32", "f64"};
  std::vector<std::string> layouts = {"ncs", "nsc"};
  /// fwd, bwd, fwdbwd, derivs; empty: every kind the module's bodies give.
  std::vector<std::string> kinds = {};
  /// The vector loops' width in bits (convert-act-to-kernels' vector-bits); 0: the
  /// host's, 1: scalar loops only.
  unsigned vectorBits = 0;
  /// Channels-last gradient kernels with per-channel parameters: the one path they
  /// hold (act::ColumnClass), or -1 for all, chosen at run time.
  int columnClass = -1;
  /// Channels-last forward kernels along rows: staged (0) or unstaged (1) alone
  /// (act::rowsUnstaged), or -1 for both, chosen at run time.
  int forwardRows = -1;
};

/// act-expand then convert-act-to-kernels: func/scf/memref/arith/math kernels
/// (forward kernels for activations, backward and fused forward+backward kernels for
/// order-1 derivative bodies).
mlir::LogicalResult lowerToKernels(mlir::ModuleOp module, const KernelOptions &opts);

/// act-autodiff (order 1), act-expand, convert-act-to-gpu and the PTX pipeline: the
/// PTX text of every activation's gpu.module (forward, backward and fused
/// forward+backward kernels, and the gradient reduction) for `chip`, one module after
/// another (empty on failure). CUDA's libdevice comes from $ACT_CUDA_PATH, $CUDA_HOME, $CUDA_PATH or
/// /usr/local/cuda.
std::string lowerToPTX(mlir::ModuleOp module, const std::string &chip = "sm_90");

/// Kernels to the LLVM dialect (act-kernels-to-llvm).
mlir::LogicalResult lowerToLLVMDialect(mlir::ModuleOp module);

/// lowerToKernels then lowerToLLVMDialect as one stage: one pass manager, the IR
/// verified once at its end, and no second canonicalize and CSE between them (the
/// JIT's path).
mlir::LogicalResult lowerToLLVMDialect(mlir::ModuleOp module, const KernelOptions &opts);

/// The LLVM IR of an LLVM-dialect module, optimised at -O2 for the host CPU.
std::string translateToLLVMIR(mlir::ModuleOp module);

} // namespace act

// act: passes that cross dialects (act -> kernels -> LLVM).
#pragma once

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace act {

#define GEN_PASS_DECL
#include "act/Conversion/Passes.h.inc"

/// The kernel function name for an activation, element type and layout.
std::string kernelName(llvm::StringRef activation, llvm::StringRef kind,
                       llvm::StringRef dtype, llvm::StringRef layout);

/// The host CPU's widest vector registers in bits (512 with AVX-512F, 256 with
/// AVX, 128 otherwise).
unsigned hostVectorBits();

/// Whether glibc's vector math library (libmvec.so.1) is loaded into the process
/// (dlopen'ed globally on the first call; x86-64 only; ACT_NO_LIBMVEC=1 turns it
/// off): act-math-to-libm then calls its vector variants for math ops on vectors
/// of the host's width, and the JIT resolves them from the process.
bool vectorLibmLoaded();

/// act-stage-loops' default chain cycles times operations per stage (ACT_STAGE_WORK
/// overrides it, for experiments).
unsigned defaultStageWork();

/// Lowers kernels (func/scf/memref/arith/math) to the LLVM dialect for the CPU.
/// `canonical`: the kernels come straight from convert-act-to-kernels' canonicalize
/// and CSE, so the pipeline's own first round is skipped.
void buildKernelsToLLVMPipeline(mlir::OpPassManager &pm, bool canonical = false);

/// Registers the `act-kernels-to-llvm` pipeline with mlir-opt style drivers.
void registerKernelsToLLVMPipeline();

/// Lowers the gpu.module from convert-act-to-gpu to NVVM and serialises it to PTX
/// (gpu-module-to-binary, format=isa; CUDA's libdevice is linked for math functions
/// when `cudaPath` has it).
void buildKernelsToPTXPipeline(mlir::OpPassManager &pm, const std::string &cudaPath);

/// The PTX text of every gpu.binary in `module` (after buildKernelsToPTXPipeline).
std::string extractPTX(mlir::ModuleOp module);

#define GEN_PASS_REGISTRATION
#include "act/Conversion/Passes.h.inc"

} // namespace act

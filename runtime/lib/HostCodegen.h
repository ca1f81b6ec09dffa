// act runtime (internal): machine code for the host CPU: the target, the
// process-wide ORC JIT, the LLVM IR passes and code generation of a lowered
// module, and the bundle of object files a build links (and the kernel cache keeps).
#pragma once

#include "JIT.h"

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/MemoryBuffer.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace act::detail {

inline double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
      .count();
}

/// The host CPU as LLVM's code generation targets it.
struct Host {
  mutable llvm::orc::JITTargetMachineBuilder builder; // createTargetMachine() is not const
  std::string triple, cpu, features;
};

/// The host target, detected once. Throws act::Error.
const Host &host();

/// Whether code generation runs LLVM's loop strength reduction: off unless
/// ACT_JIT_LSR=1 (experiments; part of the cache key). The kernels' loops index
/// every buffer by one induction variable already; LSR cost about a fifth of code
/// generation (llc -O1 on a fwd+bwd module: 58 -> 46 ms without it).
bool loopStrengthReduction();

/// The process-wide JIT. Never destroyed: code may be unlinked by KernelSets that
/// live in static objects, after function-local statics are gone.
llvm::orc::LLJIT &processJIT();

/// LLVM IR passes before code generation. The MLIR pipeline has already
/// vectorised, canonicalised, CSE'd and hoisted the kernels; for most activations the
/// inner loops that -O1 gives are no shorter than without it (e.g. 42 vs 43
/// instructions for swish forward, 229 both for acon_c backward), while it costs
/// about a third of the compile time: none. Activations with a table parameter
/// (pwlu) get loop rotation and instcombine: their gradient loops carry one register
/// a table entry, and in the unrotated loops the register allocator moved 40 of
/// them a vector step (pwlu ncs backward 0.745 -> 0.681 ms on 1M floats in cache,
/// where -O2 gave 0.656, for 3 ms of compile time where -O2 took 25-90).
/// ACT_JIT_OPT=0..3 sets LLVM's -O0..-O3 pipeline for every build (experiments);
/// the choice is part of the cache key.
enum class IrPasses { None, RotateLoops, O1, O2, O3 };

/// The IR passes a build of the activations `names` of `actModule` gets.
IrPasses irPasses(mlir::ModuleOp actModule, const std::vector<std::string> &names);
/// Its name in cache keys.
const char *irPassesName(IrPasses passes);

/// Packs `module`'s kernels, runs `passes` and generates an object file.
std::unique_ptr<llvm::MemoryBuffer> optimizeAndGenerate(llvm::Module &module,
                                                        BuildStats &stats, bool quick,
                                                        IrPasses passes);

/// Several object files as one buffer (the kernel cache's payload):
/// "ACTOBJS1", a 4-byte count, then each object as an 8-byte size and its bytes
/// (integers little endian).
std::unique_ptr<llvm::MemoryBuffer>
bundleObjects(const std::vector<std::unique_ptr<llvm::MemoryBuffer>> &objects);

/// The objects of a bundle; throws act::Error when it is malformed.
std::vector<std::unique_ptr<llvm::MemoryBuffer>> unbundleObjects(llvm::StringRef bundle);

} // namespace act::detail

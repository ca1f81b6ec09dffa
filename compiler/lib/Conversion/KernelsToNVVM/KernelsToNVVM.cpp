// act-kernels-to-ptx: the gpu.module of convert-act-to-gpu -> NVVM -> PTX text.
#include "act/Conversion/Passes.h"

#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/GPU/IR/CompilationInterfaces.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void act::buildKernelsToPTXPipeline(OpPassManager &pm, const std::string &cudaPath) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  OpPassManager &gpu = pm.nest<gpu::GPUModuleOp>();
  gpu.addPass(memref::createExpandStridedMetadataPass());
  gpu.addPass(createConvertSCFToCFPass());
  // Math functions become CUDA libdevice calls (__nv_expf, ...), linked below.
  gpu.addPass(createConvertGpuOpsToNVVMOps());
  gpu.addPass(createCanonicalizerPass());
  gpu.addPass(createCSEPass());
  gpu.addPass(createReconcileUnrealizedCastsPass());
  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = cudaPath;
  binary.compilationTarget = "isa"; // PTX text: no CUDA toolkit needed to emit it
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

std::string act::extractPTX(ModuleOp module) {
  std::string ptx;
  module.walk([&](gpu::BinaryOp binary) {
    for (Attribute attr : binary.getObjects()) {
      auto object = dyn_cast<gpu::ObjectAttr>(attr);
      if (!object)
        continue;
      StringRef text = object.getObject().getValue();
      ptx += "// act: gpu.module @" + binary.getName().str() + "\n";
      while (!text.empty() && text.back() == '\0') // the embedded string's NUL
        text = text.drop_back();
      ptx += text.str();
      if (!ptx.empty() && ptx.back() != '\n')
        ptx += '\n';
    }
  });
  return ptx;
}

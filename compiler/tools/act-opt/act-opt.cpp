// act-opt: mlir-opt with the act dialect and every act pass registered.
#include "act/Conversion/Passes.h"
#include "act/Dialect/ActPasses.h"
#include "act/Pipeline/Pipeline.h"

#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerTransformsPasses(); // canonicalize, cse, ...
  act::registerActPasses();
  act::registerActConversionPasses();
  act::registerKernelsToLLVMPipeline();
  mlir::DialectRegistry registry;
  act::registerAllDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "act optimizer driver\n", registry));
}

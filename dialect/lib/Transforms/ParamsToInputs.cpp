// act-params-to-inputs: parameters with one value per element become inputs.
//
// On a tensor of extent 1 along S (and C, or N), a parameter that varies along the
// other dimensions has as many values as the tensor has elements, one each. Its
// gradient is then one product per entry, as an input's is; as an input, the
// kernels store it so instead of summing each entry alone (meta_acon_c's [N,C]
// beta on a dense layer's {N, C, 1}).
#include "act/Dialect/ActPasses.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace act;

namespace act {
#define GEN_PASS_DEF_ACTPARAMSTOINPUTS
#include "act/Dialect/ActPasses.h.inc"
} // namespace act

SmallVector<unsigned> act::elementwiseParams(ActivationOp act, StringRef unitDims) {
  bool unitN = unitDims.contains('N'), unitC = unitDims.contains('C'),
       unitS = unitDims.contains('S');
  ArrayRef<bool> isConst = act.getParamConst();
  SmallVector<unsigned> params;
  for (unsigned p = 0; p < act.getNumParams(); ++p)
    if (movesToInput(isConst[p], act.getTableLength(p), act.isPerSample(p), act.isPerChannel(p),
                     unitN, unitC, unitS))
      params.push_back(p);
  return params;
}

void act::moveParamsToInputs(ActivationOp act, ArrayRef<unsigned> params) {
  if (params.empty())
    return;
  unsigned numIn = act.getNumInputs(), numParams = act.getNumParams();
  SmallVector<bool> moved(numParams, false);
  for (unsigned p : params) {
    assert(p < numParams && act.getTableLength(p) == 0 && "a scalar parameter");
    moved[p] = true;
  }
  // The new arguments' order: inputs, the moved parameters, the others; each old
  // argument's uses move to its new one, then the old ones go.
  SmallVector<unsigned> order;
  for (unsigned i = 0; i < numIn; ++i)
    order.push_back(i);
  for (unsigned p : params)
    order.push_back(numIn + p);
  for (unsigned p = 0; p < numParams; ++p)
    if (!moved[p])
      order.push_back(numIn + p);
  Block &body = act.getBodyBlock();
  unsigned oldCount = body.getNumArguments();
  for (unsigned old : order) {
    BlockArgument arg = body.getArgument(old);
    arg.replaceAllUsesWith(body.addArgument(arg.getType(), arg.getLoc()));
  }
  body.eraseArguments(0, oldCount);

  Builder b(act.getContext());
  SmallVector<Attribute> inputNames(act.getInputNames().getValue()), names, shapes, inits;
  SmallVector<bool> isConst;
  for (unsigned p = 0; p < numParams; ++p) {
    if (moved[p])
      continue;
    names.push_back(act.getParamNames()[p]);
    shapes.push_back(act.getParamShapes()[p]);
    inits.push_back(act.getParamInits()[p]);
    isConst.push_back(act.getParamConst()[p]);
  }
  for (unsigned p : params)
    inputNames.push_back(act.getParamNames()[p]);
  act.setInputNamesAttr(b.getArrayAttr(inputNames));
  act.setParamNamesAttr(b.getArrayAttr(names));
  act.setParamShapesAttr(b.getArrayAttr(shapes));
  act.setParamInitsAttr(b.getArrayAttr(inits));
  act.setParamConst(isConst);
}

namespace {
struct ActParamsToInputsPass : act::impl::ActParamsToInputsBase<ActParamsToInputsPass> {
  using Base::Base;
  void runOnOperation() override {
    if (StringRef(unitDims).find_first_not_of("NCS") != StringRef::npos) {
      getOperation().emitError("act-params-to-inputs: unit-dims takes letters of NCS, got '")
          << unitDims << "'";
      return signalPassFailure();
    }
    for (ActivationOp act : getOperation().getOps<ActivationOp>())
      if (!act->hasAttr("act.grad_of"))
        moveParamsToInputs(act, elementwiseParams(act, unitDims));
  }
};
} // namespace

// act runtime: Activation::launch and launchBackward, the CUDA modules' entry points
// (device pointers throughout, asynchronous on the caller's stream).
#include "act/act.h"

#include "ModuleImpl.h"

using namespace act;
using detail::checkCall;
using detail::kernelShape;

void Activation::launch(DType dtype, const TensorShape &shape, const void *const *inputs,
                        void *y, const void *const *params, void *stream) const {
  impl->requireTarget(Target::CUDA);
  if (dtype != DType::F32 && dtype != DType::F64)
    throw Error("'" + impl->name + "': CUDA kernels take float32 or float64");
  if (!checkCall(*impl, shape, inputs, {y}))
    return;
  for (size_t p = 0; p < impl->params.size(); ++p)
    if (!params || !params[p])
      throw Error("'" + impl->name + "': parameter '" + impl->params[p].name +
                  "' needs a device buffer (CUDA launches take no defaults)");
  std::vector<std::pair<const void *, int64_t>> buffers;
  for (size_t i = 0; i < impl->inputs.size(); ++i)
    buffers.emplace_back(inputs[i], shape.numElements());
  buffers.emplace_back(y, shape.numElements());
  for (size_t p = 0; p < impl->params.size(); ++p)
    buffers.emplace_back(params[p], impl->params[p].numValues(shape));
  impl->getGpuKernels().launchForward(dtype, shape, buffers, impl->inputs.size() + 1, stream);
}

void Activation::launchBackward(DType dtype, const TensorShape &callerShape,
                                const void *const *inputs, const void *dy,
                                void *const *dinputs, void *const *dparams,
                                const void *const *params, void *y, void *stream) const {
  impl->requireTarget(Target::CUDA);
  if (dtype != DType::F32 && dtype != DType::F64)
    throw Error("'" + impl->name + "': CUDA kernels take float32 or float64");
  const TensorShape shape = kernelShape(callerShape);
  if (!checkCall(*impl, shape, inputs, {dy, dinputs}))
    return;
  int64_t count = shape.numElements();
  std::vector<std::pair<const void *, int64_t>> buffers;
  for (size_t i = 0; i < impl->inputs.size(); ++i)
    buffers.emplace_back(inputs[i], count);
  if (y)
    buffers.emplace_back(y, count);
  buffers.emplace_back(dy, count);
  for (size_t i = 0; i < impl->inputs.size(); ++i) {
    if (!dinputs[i])
      throw Error("'" + impl->name + "': the gradient buffer for input '" +
                  impl->inputs[i] + "' is null");
    buffers.emplace_back(dinputs[i], count);
  }
  std::vector<detail::GpuKernelSet::GradOut> grads;
  for (size_t p = 0; p < impl->params.size(); ++p) {
    const ParamInfo &info = impl->params[p];
    if (!params || !params[p])
      throw Error("'" + impl->name + "': parameter '" + info.name +
                  "' needs a device buffer (CUDA launches take no defaults)");
    buffers.emplace_back(params[p], info.numValues(shape));
    if (!info.isConst)
      grads.push_back({dparams ? dparams[p] : nullptr, info.perSample, info.perChannel,
                       info.tableLength});
  }
  impl->getGpuKernels().launchBackward(dtype, shape, buffers, y != nullptr, grads, stream);
}

// act runtime (internal): the shape and the kernel a CPU call on a tensor runs:
// the shape its kernels see (a flat row, one channel, or short channels-first rows
// as channels-last ones) and the classes its channels-last kernels are compiled for.
// The measurements behind each choice are at its definition (CallShapes.cpp).
#pragma once

#include "ModuleImpl.h"

#include <cstdint>

namespace act::detail {

/// The shape the CPU kernels run for a call on `callerShape`: kernelShape's, or a
/// flat row, or one channel, where the parameters cannot tell elements apart.
TensorShape cpuShape(const Activation::Impl &impl, const TensorShape &callerShape);

/// The column class of `shape`'s channels-last kernels (-1 where none applies);
/// `rowsPerCall`: a gradient kernel call's rows.
int columnClassFor(const Activation::Impl &impl, DType dtype, const TensorShape &shape,
                   int64_t rowsPerCall = INT64_MAX);

/// The rows class of the forward kernel for calls on `shape` of a tensor of
/// `elements` (-1 where none applies): 1 unstaged, 0 staged.
int forwardRowsFor(const Activation::Impl &impl, DType dtype, const TensorShape &shape,
                   int64_t elements);

/// Whether a call on the channels-first `shape` (kernelShape's) runs as the
/// channels-last {N, C S, 1}, its per-channel parameters repeated S times
/// (expandAlongS, CallParams.h).
bool shortRowsAsChannels(const Activation::Impl &impl, DType dtype, const TensorShape &shape,
                         bool forward);

} // namespace act::detail

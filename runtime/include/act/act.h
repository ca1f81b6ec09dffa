// act: the C++ API for applications that embed the activation compiler.
//
//   #include <act/act.h>
//   act::Module m = act::Module::compile("act swish(x; beta = 1.0) = x * sigmoid(beta * x)");
//   const act::Activation &swish = m.get("swish");
//   swish.forward(act::TensorShape{n, c, s}, inputs, y, params);
//
// No MLIR or LLVM types appear here. Compile errors are thrown as act::CompileError
// carrying structured diagnostics; nothing is printed and nothing aborts.
#pragma once

#include "act/Diagnostic.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace act {

/// The library's version, "MAJOR.MINOR.PATCH".
const char *version();

/// Threads that kernels are split across (0: the hardware threads, the default).
/// Results, including gradient reductions, are bitwise the same for any count.
void setNumThreads(unsigned threads);
unsigned numThreads();

/// Element types. F16 (IEEE binary16) and BF16 (bfloat16) buffers hold the 16-bit
/// patterns (uint16_t); kernels compute them in float32 and round once, to nearest
/// even, on the way out. Parameter gradients are accumulated in double and rounded
/// once into the caller's type.
enum class DType { F32, F64, F16, BF16 };

/// Bytes per element of `dtype`.
size_t sizeOf(DType dtype);

/// Round-to-nearest-even conversions between double and the 16-bit types (one
/// rounding; overflow gives inf, NaN stays NaN), and their exact inverses.
uint16_t toFloat16(double value);
uint16_t toBFloat16(double value);
double fromFloat16(uint16_t bits);
double fromBFloat16(uint16_t bits);

/// Memory order of a contiguous tensor seen as (N, C, S), S being the product of the
/// spatial extents: NCS is NCHW-like (channels first), NSC is channels-last (NHWC).
enum class Layout { NCS, NSC };

/// Where a module's kernels run. CUDA modules take device pointers (see act/cuda.h)
/// and run through Activation::launch.
enum class Target { CPU, CUDA };

struct CompileOptions {
  Target target = Target::CPU;
  /// CUDA: the architecture to compile for ("sm_90"); empty: the device's own.
  std::string chip;
  /// CPU: run kernels with subnormal inputs and results flushed to zero (x86
  /// MXCSR FTZ+DAZ, AArch64 FPCR.FZ), restored after each call. Off by default: it
  /// turns every |value| below 1.2e-38 (float32) into 0; docs/numerics.md gives the
  /// cost and what it buys.
  bool flushDenormals = false;
  /// CPU: keep compiled kernels in a persistent cache on disk and reuse them across
  /// processes (docs/runtime-api.md, "Kernel cache"). False: never read or write it.
  bool useCache = true;
  /// The cache directory; empty: $ACT_CACHE_DIR (empty or "off" disables the cache),
  /// else $XDG_CACHE_HOME/act, else $HOME/.cache/act.
  std::string cacheDir;
  /// CPU: the first forward or backward call of an activation for an element type and
  /// layout compiles both kernels in one build, their code generated on two threads
  /// (about 18 ms for both on a 2-core machine, against about 25 ms one after the
  /// other), since training calls both. True: a forward call compiles the forward
  /// kernel alone (about 10 ms), for inference-only use.
  bool lazyBackward = false;
};

struct TensorShape {
  int64_t n = 1; ///< samples
  int64_t c = 1; ///< channels
  int64_t s = 1; ///< spatial positions per sample and channel
  Layout layout = Layout::NCS;

  int64_t numElements() const { return n * c * s; }
};

/// A learnable (or const) parameter as declared in the source, so that a host
/// framework can create its tensors.
struct ParamInfo {
  std::string name;
  bool perSample = false;  ///< broadcast shape has N
  bool perChannel = false; ///< broadcast shape has C
  int64_t tableLength = 0; ///< trailing table length (y[C,17] -> 17), 0 if none
  bool isConst = false;    ///< `const`: not learnable
  std::vector<double> init; ///< initial value(s); empty when the source gave none

  /// The declared shape: "" (scalar), "[C]", "[N,C]", "[C,17]", ...
  std::string shape() const;
  /// Values the parameter tensor holds for a tensor of `shape`:
  /// (perSample ? n : 1) * (perChannel ? c : 1) * max(tableLength, 1).
  int64_t numValues(const TensorShape &shape) const;
  /// The initial values expanded to numValues(shape); throws act::Error if none.
  std::vector<double> initialValues(const TensorShape &shape) const;
};

/// Base of every exception act throws.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Compilation failed: the diagnostics say where and why.
class CompileError : public Error {
public:
  explicit CompileError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic> &diagnostics() const { return diags; }

private:
  std::vector<Diagnostic> diags;
};

class Module;

/// One compiled activation. Cheap to copy; safe to call from several threads at once.
/// Kernels are generated on the first call for each element type.
class Activation {
public:
  const std::string &name() const;
  /// The definition's source text.
  const std::string &formula() const;
  /// The simplified body as one canonical formula (sugar expanded, commutative
  /// operands ordered, constants folded): `x * sigmoid(x)`, `sigmoid(x) * x` and
  /// `gate(x, x)` all give "x * sigmoid(x)". Equal text means equal functions.
  std::string canonicalForm() const;
  /// Elementwise inputs, main input first.
  const std::vector<std::string> &inputs() const;
  const std::vector<ParamInfo> &params() const;
  const ParamInfo *findParam(std::string_view name) const;

  /// y = f(inputs; params) over a contiguous tensor of `shape`.
  /// `inputs`: one pointer per input, each numElements() values; `params`: one pointer
  /// per parameter in declaration order, each numValues(shape) values, or null to use
  /// the declared initial value (`params` itself may be null). `y` may alias inputs[0].
  void forward(const TensorShape &shape, const float *const *inputs, float *y,
               const float *const *params = nullptr) const;
  void forward(const TensorShape &shape, const double *const *inputs, double *y,
               const double *const *params = nullptr) const;
  /// The same with the element type given at run time.
  void forward(DType dtype, const TensorShape &shape, const void *const *inputs,
               void *y, const void *const *params = nullptr) const;

  /// Gradients for a training step, recomputed from the inputs (nothing is kept
  /// from forward). `dy`: the upstream gradient, numElements() values. `dinputs`: one
  /// buffer per input receiving dy * df/d(input). `dparams`: one buffer per parameter
  /// in declaration order receiving the gradient reduced to the parameter's shape
  /// (numValues(shape) values, overwritten; summed over N and S for [C], over C and S
  /// for [N], over S for [N,C], over everything for scalars; a table's entries get the
  /// elements that used them). Entries for const parameters are ignored and may be
  /// null; `dparams` itself may be null when no parameter gradient is wanted.
  /// Reductions accumulate in double in element order: the result is bitwise the
  /// same on every run. With `y` non-null the forward values are written too, in the
  /// same pass.
  void backward(const TensorShape &shape, const float *const *inputs, const float *dy,
                float *const *dinputs, float *const *dparams,
                const float *const *params = nullptr, float *y = nullptr) const;
  void backward(const TensorShape &shape, const double *const *inputs, const double *dy,
                double *const *dinputs, double *const *dparams,
                const double *const *params = nullptr, double *y = nullptr) const;
  void backward(DType dtype, const TensorShape &shape, const void *const *inputs,
                const void *dy, void *const *dinputs, void *const *dparams,
                const void *const *params = nullptr, void *y = nullptr) const;

  /// f and its derivatives in the main input up to `order` (1..8), elementwise:
  /// `outs` holds order + 1 buffers receiving f, f', ..., f^(order). Kernels for each
  /// order are compiled on first use.
  void derivatives(unsigned order, const TensorShape &shape, const float *const *inputs,
                   float *const *outs, const float *const *params = nullptr) const;
  void derivatives(unsigned order, const TensorShape &shape, const double *const *inputs,
                   double *const *outs, const double *const *params = nullptr) const;
  void derivatives(DType dtype, unsigned order, const TensorShape &shape,
                   const void *const *inputs, void *const *outs,
                   const void *const *params = nullptr) const;

  /// CUDA modules: y = f(inputs; params) on the device, asynchronously on `stream`
  /// (a CUstream; null: the default stream). Every pointer is a device pointer,
  /// parameters included (they have no defaults here). Throws act::Error with the
  /// driver's message when the launch fails, or when the module targets the CPU.
  void launch(DType dtype, const TensorShape &shape, const void *const *inputs, void *y,
              const void *const *params, void *stream = nullptr) const;
  /// CUDA modules: backward() on the device, asynchronously on `stream`, with device
  /// pointers throughout. Parameter gradients are summed as partials per fixed tile
  /// (in double) and then in a fixed order by a second kernel: bitwise the same on
  /// every run on the same device. `dparams` entries (or `dparams` itself) may be
  /// null where no gradient is wanted; with `y` non-null the forward values are
  /// written in the same pass. Scratch for the partials is kept per stream.
  void launchBackward(DType dtype, const TensorShape &shape, const void *const *inputs,
                      const void *dy, void *const *dinputs, void *const *dparams,
                      const void *const *params, void *y = nullptr,
                      void *stream = nullptr) const;

  struct Impl;

private:
  friend class Module;
  std::shared_ptr<Impl> impl;
};

/// A compiled .act source: every definition in it.
class Module {
public:
  /// Parses, checks and lowers `source`; throws CompileError.
  static Module compile(std::string_view source, std::string filename = "<input>",
                        const CompileOptions &options = {});
  /// The same for a file; a file that cannot be read is a CompileError too.
  static Module compileFile(const std::string &path, const CompileOptions &options = {});

  /// Definition names in source order.
  const std::vector<std::string> &names() const;
  /// Throws act::Error (with a "did you mean" hint) when there is no such activation.
  const Activation &get(std::string_view name) const;
  /// Null when there is no such activation.
  const Activation *find(std::string_view name) const;

  /// Batch compilation, for scripts that try many candidates: JIT-compiles the
  /// forward and backward kernels (both layouts) of the activations `names` (empty:
  /// every activation) for `dtype` in units of up to 16 activations (one lowering,
  /// one LLVM module, one object file, one kernel-cache entry a unit), sharing the
  /// per-compile overhead.
  /// Activations whose kernels for `dtype` exist already are skipped; later calls
  /// of forward/backward use these kernels. Throws CompileError (lowering failed),
  /// or act::Error for an unknown name or a CUDA module.
  void compileKernels(DType dtype = DType::F32, const std::vector<std::string> &names = {});

  /// Which order-1 kernels a batch builds (compileKernels below).
  struct KernelSelection {
    bool forward = true;  ///< forward()
    bool backward = true; ///< backward() without y
    bool fused = true;    ///< backward() with y, and derivatives(1)
    bool ncs = true, nsc = true; ///< layouts the kernels run in
    /// Compile fast, run slowly: scalar loops, no LLVM optimisation. For kernels
    /// called on a few hundred points (screening); ~3x quicker to build.
    bool quick = false;
  };
  /// The same for only the kernels `which` names: a search screening hundreds of
  /// candidates at probe points needs only the fused kernels of one layout (a shape
  /// {n, 1, 1} runs ncs; a dense layer's {n, c, 1} runs nsc). Other kernels are still
  /// compiled on their first use.
  void compileKernels(DType dtype, const std::vector<std::string> &names,
                      const KernelSelection &which);

  Module(Module &&) noexcept;
  Module &operator=(Module &&) noexcept;
  ~Module();

  struct Impl;

private:
  explicit Module(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl;
};

/// PWLU's two-phase training (Zhou et al., "Learning specialized activation functions
/// with the piecewise linear unit"; docs/runtime-api.md, "PWLU"). Phase I collects
/// running statistics of the activation's input; phase II moves the knots' bounds to
/// mean -/+ 3 std and refits the knots.
struct RunningStats {
  bool perChannel = true;  ///< one mean/var per channel, else one for the layer
  double momentum = 0.1;   ///< running = (1 - momentum) * running + momentum * batch
  std::vector<double> mean, var; ///< C values (perChannel) or 1; empty before the first
  int64_t batches = 0;     ///< update calls so far; the first one sets mean/var

  /// Phase I: folds in the mean and (population) variance of `x`, a tensor of
  /// `shape` (either layout), per channel or over the whole tensor. One pass over
  /// `x` computes both (Welford per row in double, rows combined in row order), split
  /// across threads in chunks that depend only on the shape: the result is bitwise
  /// the same for any thread count. Throws act::Error on a channel-count mismatch.
  void update(const TensorShape &shape, const float *x);
  void update(const TensorShape &shape, const double *x);
};

/// Phase II: moves a PWLU's bounds to bl = mean - sigmas * std, br = mean + sigmas * std
/// (per channel, or the layer's statistics for every channel) and refits the knots so
/// the function stays the same: the new knot values are the old function at the new
/// knot positions, and kl, kr become the old function's slopes just outside the new
/// bounds. The result equals the old function at every new knot and wherever the old
/// one is linear across a new segment; elsewhere it is the old function's linear
/// interpolation between the new knots (off by at most width/4 times the slope
/// changes inside that segment). Buffers hold `channels` values each, `y` channels x
/// `knots` (the layout of `pwl(x; y[C,K], bl[C], br[C], kl[C], kr[C])`). std is
/// floored at 1e-6 * max(1, |mean|) so the bounds never coincide. Throws act::Error
/// when `stats` is empty or its channel count differs.
void realignPwlu(const RunningStats &stats, int64_t channels, int64_t knots, double *y,
                 double *bl, double *br, double *kl, double *kr, double sigmas = 3.0);
void realignPwlu(const RunningStats &stats, int64_t channels, int64_t knots, float *y,
                 float *bl, float *br, float *kl, float *kr, double sigmas = 3.0);

} // namespace act

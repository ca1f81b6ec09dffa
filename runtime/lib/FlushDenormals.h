// act runtime (internal): subnormals flushed to zero for the duration of a scope.
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace act::detail {

/// Sets the calling thread's FTZ and DAZ bits (AArch64: FPCR.FZ) and restores the
/// previous mode on destruction, so a caller's own floating-point mode is untouched.
class FlushDenormalsScope {
public:
#if defined(__x86_64__) || defined(__i386__)
  FlushDenormalsScope() : saved(_mm_getcsr()) { _mm_setcsr(saved | 0x8040); }
  ~FlushDenormalsScope() { _mm_setcsr(saved); }

private:
  unsigned saved;
#elif defined(__aarch64__)
  FlushDenormalsScope() {
    __asm__ volatile("mrs %0, fpcr" : "=r"(saved));
    unsigned long ftz = saved | (1ul << 24);
    __asm__ volatile("msr fpcr, %0" : : "r"(ftz));
  }
  ~FlushDenormalsScope() { __asm__ volatile("msr fpcr, %0" : : "r"(saved)); }

private:
  unsigned long saved;
#else
  // No known control register: kernels run with the default (IEEE) mode.
#endif
public:
  FlushDenormalsScope(const FlushDenormalsScope &) = delete;
  FlushDenormalsScope &operator=(const FlushDenormalsScope &) = delete;
};

} // namespace act::detail

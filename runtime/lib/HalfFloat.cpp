// act runtime: float16 / bfloat16 conversions from and to double, rounding once.
//
// Kernels convert in generated code (F16C or integer code); these serve the host
// side: parameter defaults, gradients rounded from their double accumulators, and
// callers (actc eval, tests) preparing 16-bit buffers.
#include "act/act.h"

#include <cmath>
#include <cstring>

namespace {

/// A binary floating-point format with `mantBits` stored mantissa bits and
/// exponent bias `bias` (f16: 10, 15; bf16: 7, 127), packed in 16 bits.
struct Format {
  int mantBits, bias;
  uint16_t infBits() const { return (uint16_t)(((2 * bias + 1) << mantBits)); }
};

/// Shifts right by `s`, rounding to nearest, ties to even.
uint64_t shiftRoundEven(uint64_t m, int s) {
  if (s >= 64)
    return 0;
  if (s <= 0)
    return m << -s;
  uint64_t q = m >> s, rem = m & ((uint64_t(1) << s) - 1), half = uint64_t(1) << (s - 1);
  if (rem > half || (rem == half && (q & 1)))
    ++q;
  return q;
}

uint16_t fromDouble(double v, Format f) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  uint16_t sign = (uint16_t)((b >> 48) & 0x8000);
  uint64_t abs = b & 0x7fffffffffffffffULL;
  if (abs >= 0x7ff0000000000000ULL) // inf, or NaN made quiet
    return sign | f.infBits() |
           (abs > 0x7ff0000000000000ULL ? (uint16_t)(1u << (f.mantBits - 1)) : 0);
  if (abs == 0)
    return sign;
  int exp = (int)(abs >> 52) - 1023;
  uint64_t mant = abs & ((uint64_t(1) << 52) - 1);
  if (exp == -1023) { // a double subnormal: far below either format's range
    exp = -1022;
  } else {
    mant |= uint64_t(1) << 52;
  }
  if (exp > f.bias) // beyond the largest finite value, even after rounding
    return sign | f.infBits();
  int shift = 52 - f.mantBits;
  uint64_t bits;
  if (exp >= 1 - f.bias) { // normal: a carry out of the mantissa bumps the exponent
    bits = ((uint64_t)(exp + f.bias) << f.mantBits) +
           (shiftRoundEven(mant, shift) - (uint64_t(1) << f.mantBits));
  } else { // subnormal (rounding may reach the smallest normal)
    bits = shiftRoundEven(mant, shift + (1 - f.bias - exp));
  }
  if (bits >= f.infBits())
    return sign | f.infBits();
  return sign | (uint16_t)bits;
}

double toDouble(uint16_t h, Format f) {
  bool negative = h & 0x8000;
  int expField = (h & 0x7fff) >> f.mantBits;
  int mant = h & ((1 << f.mantBits) - 1);
  double v;
  if (expField == 2 * f.bias + 1)
    v = mant ? __builtin_nan("") : __builtin_inf();
  else if (expField == 0)
    v = std::ldexp((double)mant, 1 - f.bias - f.mantBits);
  else
    v = std::ldexp((double)(mant | (1 << f.mantBits)), expField - f.bias - f.mantBits);
  return negative ? -v : v;
}

constexpr Format kFloat16{10, 15}, kBFloat16{7, 127};

} // namespace

uint16_t act::toFloat16(double value) { return fromDouble(value, kFloat16); }
uint16_t act::toBFloat16(double value) { return fromDouble(value, kBFloat16); }
double act::fromFloat16(uint16_t bits) { return toDouble(bits, kFloat16); }
double act::fromBFloat16(uint16_t bits) { return toDouble(bits, kBFloat16); }

size_t act::sizeOf(DType dtype) {
  return dtype == DType::F64 ? 8 : dtype == DType::F32 ? 4 : 2;
}

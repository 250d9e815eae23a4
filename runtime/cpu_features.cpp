#include "runtime/cpu_features.h"

#include <cstring>
#include <initializer_list>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace slmc::runtime {

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return "scalar";
    case Isa::Avx2:
      return "avx2";
    case Isa::Avx512:
      return "avx512";
  }
  return "?";
}

bool parseIsa(const char* name, Isa* isa) {
  for (Isa candidate : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (std::strcmp(name, isaName(candidate)) == 0) {
      *isa = candidate;
      return true;
    }
  return false;
}

namespace {

#if defined(__x86_64__) || defined(__i386__)
// F16C (vcvtph2ps): CPUID leaf 1, ECX bit 29. Asked directly because clang's
// __builtin_cpu_supports does not know the name; AVX2's check already covers the OS side.
bool cpuHasF16c() {
  unsigned eax, ebx, ecx, edx;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
}
#endif

}  // namespace

bool cpuSupports(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  // __builtin_cpu_supports checks cpuid and that the OS enabled the registers (xgetbv).
  switch (isa) {
    case Isa::Scalar:
      return true;
    case Isa::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpuHasF16c();
    case Isa::Avx512:
      return cpuSupports(Isa::Avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl");
  }
  return false;
#else
  return isa == Isa::Scalar;
#endif
}

Isa bestIsa() {
  if (cpuSupports(Isa::Avx512)) return Isa::Avx512;
  if (cpuSupports(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

bool cpuHasAvx512Vnni() {
#if defined(__x86_64__) || defined(__i386__)
  return cpuSupports(Isa::Avx512) && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

}  // namespace slmc::runtime

// Which SIMD instruction sets this CPU runs. The runtime is compiled once for every x86-64
// machine: each kernel file is built with its own target flags and chosen here at run time,
// never by -march=native.
#pragma once

namespace slmc::runtime {

// Kernel paths, slowest first. Each needs:
//   Scalar: nothing (portable C++; the reference the others are tested against).
//   Avx2:   AVX2 + FMA + F16C.
//   Avx512: AVX-512 F, BW, VL (+ the Avx2 set).
enum class Isa { Scalar, Avx2, Avx512 };

// "scalar", "avx2", "avx512".
const char* isaName(Isa isa);
// Parses isaName()'s spelling; false (and *isa untouched) for anything else.
bool parseIsa(const char* name, Isa* isa);
// Whether this CPU (and its OS, which must save the wide registers) runs `isa`.
bool cpuSupports(Isa isa);
// The fastest path this CPU runs.
Isa bestIsa();
// Whether the CPU has AVX-512 VNNI (vpdpbusd): reported by the bench, used by no float path.
bool cpuHasAvx512Vnni();

}  // namespace slmc::runtime

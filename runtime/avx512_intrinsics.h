// <immintrin.h> for the files compiled with AVX-512 flags, without GCC 12's false warnings:
// its _mm512_undefined_*() (inside _mm512_cvtepi32_ps, _mm512_reduce_add_ps and friends) trips
// -Wuninitialized at every call site (GCC bug 105593); the warning says nothing about the code
// that calls them. Include it first: the pragmas hold for the rest of the file.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

// Refuses to start on a processor that lacks the instruction set the release build was compiled
// for, before any vectorised Swift code runs. This file is compiled without -march flags, so it
// runs on any x86-64. The build passes the target CPU name as -DTS_BUILD_CPU=<name> (Makefile).
#include "cpu_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TS_STR2(x) #x
#define TS_STR(x) TS_STR2(x)
#ifdef TS_BUILD_CPU
static const char *const build_cpu = TS_STR(TS_BUILD_CPU);
#else
static const char *const build_cpu = "generic";
#endif

const char *ts_build_cpu(void) { return build_cpu; }

#if defined(__x86_64__)
#include <cpuid.h>

enum {
    F_SSE3, F_SSSE3, F_SSE41, F_SSE42, F_POPCNT, F_CX16,
    F_AVX, F_AVX2, F_BMI1, F_BMI2, F_F16C, F_FMA, F_LZCNT, F_MOVBE, F_OS_YMM,
    F_AVX512F, F_AVX512BW, F_AVX512CD, F_AVX512DQ, F_AVX512VL, F_OS_ZMM,
    F_AVX512VBMI, F_AVX512VBMI2, F_AVX512VNNI, F_AVX512BITALG, F_AVX512VPOPCNTDQ,
    F_AVX512IFMA, F_AVX512BF16,
    F_COUNT
};

static const char *const feature_names[F_COUNT] = {
    "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "cx16",
    "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "lzcnt", "movbe", "os-ymm-state",
    "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "os-zmm-state",
    "avx512vbmi", "avx512vbmi2", "avx512vnni", "avx512bitalg", "avx512vpopcntdq",
    "avx512ifma", "avx512bf16",
};

typedef unsigned long long mask_t;
#define BIT(f) (1ULL << (f))
#define LEVEL2 (BIT(F_SSE3) | BIT(F_SSSE3) | BIT(F_SSE41) | BIT(F_SSE42) | BIT(F_POPCNT) | BIT(F_CX16))
#define LEVEL3 (LEVEL2 | BIT(F_AVX) | BIT(F_AVX2) | BIT(F_BMI1) | BIT(F_BMI2) | BIT(F_F16C) | \
                BIT(F_FMA) | BIT(F_LZCNT) | BIT(F_MOVBE) | BIT(F_OS_YMM))
#define LEVEL4 (LEVEL3 | BIT(F_AVX512F) | BIT(F_AVX512BW) | BIT(F_AVX512CD) | BIT(F_AVX512DQ) | \
                BIT(F_AVX512VL) | BIT(F_OS_ZMM))
#define ZEN4 (LEVEL4 | BIT(F_AVX512VBMI) | BIT(F_AVX512VBMI2) | BIT(F_AVX512VNNI) | \
              BIT(F_AVX512BITALG) | BIT(F_AVX512VPOPCNTDQ) | BIT(F_AVX512IFMA) | BIT(F_AVX512BF16))

/// Features each known -target-cpu name may use. Unknown names are not checked.
static int required_features(const char *cpu, mask_t *out) {
    static const struct { const char *name; mask_t mask; } table[] = {
        {"x86-64", 0}, {"core2", 0}, {"nehalem", LEVEL2}, {"westmere", LEVEL2},
        {"sandybridge", LEVEL2 | BIT(F_AVX) | BIT(F_OS_YMM)},
        {"ivybridge", LEVEL2 | BIT(F_AVX) | BIT(F_F16C) | BIT(F_OS_YMM)},
        {"haswell", LEVEL3}, {"core-avx2", LEVEL3}, {"broadwell", LEVEL3}, {"skylake", LEVEL3},
        {"alderlake", LEVEL3}, {"znver1", LEVEL3}, {"znver2", LEVEL3}, {"znver3", LEVEL3},
        {"skylake-avx512", LEVEL4}, {"skx", LEVEL4}, {"cascadelake", LEVEL4},
        {"icelake-server", LEVEL4}, {"sapphirerapids", LEVEL4},
        {"znver4", ZEN4}, {"znver5", ZEN4},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(table[i].name, cpu) == 0) { *out = table[i].mask; return 1; }
    }
    return 0;
}

static mask_t present_features(void) {
    unsigned a, b, c, d;
    mask_t m = 0;
    unsigned max = __get_cpuid_max(0, 0);
    if (max < 1) return 0;
    __cpuid(1, a, b, c, d);
    if (c & (1u << 0)) m |= BIT(F_SSE3);
    if (c & (1u << 9)) m |= BIT(F_SSSE3);
    if (c & (1u << 12)) m |= BIT(F_FMA);
    if (c & (1u << 13)) m |= BIT(F_CX16);
    if (c & (1u << 19)) m |= BIT(F_SSE41);
    if (c & (1u << 20)) m |= BIT(F_SSE42);
    if (c & (1u << 22)) m |= BIT(F_MOVBE);
    if (c & (1u << 23)) m |= BIT(F_POPCNT);
    if (c & (1u << 28)) m |= BIT(F_AVX);
    if (c & (1u << 29)) m |= BIT(F_F16C);
    if (c & (1u << 27)) { // OSXSAVE: the OS saves the vector state it enabled in XCR0
        unsigned xlo, xhi;
        __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
        if ((xlo & 0x6u) == 0x6u) m |= BIT(F_OS_YMM);
        if ((xlo & 0xE6u) == 0xE6u) m |= BIT(F_OS_ZMM);
    }
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (b & (1u << 3)) m |= BIT(F_BMI1);
        if (b & (1u << 5)) m |= BIT(F_AVX2);
        if (b & (1u << 8)) m |= BIT(F_BMI2);
        if (b & (1u << 16)) m |= BIT(F_AVX512F);
        if (b & (1u << 17)) m |= BIT(F_AVX512DQ);
        if (b & (1u << 21)) m |= BIT(F_AVX512IFMA);
        if (b & (1u << 28)) m |= BIT(F_AVX512CD);
        if (b & (1u << 30)) m |= BIT(F_AVX512BW);
        if (b & (1u << 31)) m |= BIT(F_AVX512VL);
        if (c & (1u << 1)) m |= BIT(F_AVX512VBMI);
        if (c & (1u << 6)) m |= BIT(F_AVX512VBMI2);
        if (c & (1u << 11)) m |= BIT(F_AVX512VNNI);
        if (c & (1u << 12)) m |= BIT(F_AVX512BITALG);
        if (c & (1u << 14)) m |= BIT(F_AVX512VPOPCNTDQ);
        __cpuid_count(7, 1, a, b, c, d);
        if (a & (1u << 5)) m |= BIT(F_AVX512BF16);
    }
    if (__get_cpuid_max(0x80000000u, 0) >= 0x80000001u) {
        __cpuid(0x80000001u, a, b, c, d);
        if (c & (1u << 5)) m |= BIT(F_LZCNT);
    }
    return m;
}

static char missing[512];

const char *ts_missing_cpu_features(void) {
    mask_t need;
    if (!required_features(build_cpu, &need)) return "";
    mask_t lack = need & ~present_features();
    missing[0] = 0;
    for (int f = 0; f < F_COUNT; f++) {
        if (lack & BIT(f)) {
            if (missing[0]) strncat(missing, " ", sizeof missing - strlen(missing) - 1);
            strncat(missing, feature_names[f], sizeof missing - strlen(missing) - 1);
        }
    }
    return missing;
}

__attribute__((constructor(101))) static void ts_cpu_check(void) {
    const char *lack = ts_missing_cpu_features();
    if (lack[0] == 0) return;
    fprintf(stderr,
            "thermosweep: this binary was built for CPU '%s', but this processor lacks: %s.\n"
            "Build it for this machine instead, for example:\n"
            "    make release CPU=haswell    # AVX2 + FMA (Intel Haswell or newer, AMD Zen 1-3)\n"
            "    make release CPU=x86-64     # any x86-64 processor (slowest)\n"
            "and copy that binary to the nodes of this kind.\n",
            build_cpu, lack);
    fflush(stderr);
    _exit(3);
}

#else
const char *ts_missing_cpu_features(void) { return ""; }
#endif

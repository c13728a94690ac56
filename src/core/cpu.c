/* CPUID + XGETBV probe. Built for baseline x86-64 so it runs on any CPU. */
#include "core/cpu.h"

#include <cpuid.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <unistd.h>

static embp_cpu g_unmasked, g_cpu;
static once_flag g_once = ONCE_FLAG_INIT;

static unsigned long long xgetbv0(void) {
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static void probe(embp_cpu *c) {
    unsigned a, b, cx, d;
    memset(c, 0, sizeof *c);
    unsigned max = (unsigned)__get_cpuid_max(0, NULL);
    __cpuid(0, a, b, cx, d);
    memcpy(c->vendor, &b, 4);
    memcpy(c->vendor + 4, &d, 4);
    memcpy(c->vendor + 8, &cx, 4);
    if ((unsigned)__get_cpuid_max(0x80000000, NULL) >= 0x80000004u) {
        unsigned w[12];
        for (unsigned i = 0; i < 3; i++)
            __cpuid(0x80000002 + i, w[4 * i], w[4 * i + 1], w[4 * i + 2], w[4 * i + 3]);
        memcpy(c->brand, w, sizeof w); /* brand[48] stays '\0' */
    }
    __cpuid(1, a, b, cx, d);
    int osxsave = (cx >> 27) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int os_avx = (xcr0 & 0x6) == 0x6;             /* XMM and YMM state */
    int os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
    int os_amx = (xcr0 & 0x60000) == 0x60000;      /* XTILECFG, XTILEDATA */
    c->fma = os_avx && ((cx >> 12) & 1);
    c->f16c = os_avx && ((cx >> 29) & 1);
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, cx, d);
        c->avx2 = os_avx && ((b >> 5) & 1);
        c->avx512f = os_avx512 && ((b >> 16) & 1);
        c->avx512bw = os_avx512 && ((b >> 30) & 1);
        c->avx512vl = os_avx512 && ((b >> 31) & 1);
        c->avx512_vnni = os_avx512 && ((cx >> 11) & 1);
        c->avx512_fp16 = os_avx512 && ((d >> 23) & 1);
        c->amx_bf16 = os_amx && ((d >> 22) & 1);
        c->amx_tile = os_amx && ((d >> 24) & 1);
        c->amx_int8 = os_amx && ((d >> 25) & 1);
        __cpuid_count(7, 1, a, b, cx, d);
        c->avx_vnni = os_avx && ((a >> 4) & 1);
        c->avx512_bf16 = os_avx512 && ((a >> 5) & 1);
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        c->n_cores = CPU_COUNT(&set);
    if (c->n_cores <= 0)
        c->n_cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (c->n_cores <= 0)
        c->n_cores = 1;
}

/* Features that need another: clearing the needed one clears these too. */
static void close_dependencies(embp_cpu *c) {
    if (!c->avx2 || !c->fma)
        c->avx512f = 0;
    if (!c->avx512f) {
        c->avx512bw = c->avx512vl = c->avx512_bf16 = c->avx512_vnni = c->avx512_fp16 = 0;
    }
    if (!c->avx2)
        c->avx_vnni = 0;
    if (!c->amx_tile)
        c->amx_bf16 = c->amx_int8 = 0;
}

static unsigned char *feature_slot(embp_cpu *c, const char *name, size_t len) {
#define EMBP_X(f)                                                                                  \
    if (len == strlen(#f) && strncmp(name, #f, len) == 0)                                          \
        return &c->f;
    EMBP_CPU_FEATURE_LIST(EMBP_X)
#undef EMBP_X
    return NULL;
}

static void keep_level(embp_cpu *c, const char *level) {
    embp_cpu k = *c;
    memset(&k, 0, offsetof(embp_cpu, n_cores));
    if (strcmp(level, "avx2") == 0 || strcmp(level, "avx512") == 0) {
        k.avx2 = c->avx2, k.fma = c->fma, k.f16c = c->f16c;
    }
    if (strcmp(level, "avx512") == 0) {
        k.avx512f = c->avx512f, k.avx512bw = c->avx512bw, k.avx512vl = c->avx512vl;
    }
    *c = k;
}

embp_status embp_cpu_mask(const embp_cpu *base, const char *mask, embp_cpu *out,
                          embp_error *err) {
    *out = *base;
    out->masked[0] = '\0';
    if (!mask || !*mask)
        return EMBP_OK;
    const char *p = mask;
    while (*p) {
        size_t len = strcspn(p, ", ");
        if (len) {
            int remove = p[0] == '-';
            const char *name = p + remove;
            size_t nlen = len - (size_t)remove;
            char word[32];
            if (nlen >= sizeof word)
                return embp_fail(err, EMBP_ECONFIG, "EMBP_CPU_FEATURES: '%.*s' is too long",
                                 (int)len, p);
            memcpy(word, name, nlen);
            word[nlen] = '\0';
            unsigned char *slot = remove ? feature_slot(out, word, nlen) : NULL;
            if (remove && slot)
                *slot = 0;
            else if (!remove && (strcmp(word, "avx2") == 0 || strcmp(word, "avx512") == 0 ||
                                 strcmp(word, "scalar") == 0))
                keep_level(out, word);
            else
                return embp_fail(err, EMBP_ECONFIG,
                                 "EMBP_CPU_FEATURES: '%.*s' is not -<feature> or a level "
                                 "(scalar, avx2, avx512); features: avx2 fma f16c avx512f "
                                 "avx512bw avx512vl avx512_bf16 avx512_vnni avx_vnni "
                                 "avx512_fp16 amx_tile amx_bf16 amx_int8",
                                 (int)len, p);
        }
        p += len;
        while (*p == ',' || *p == ' ')
            p++;
    }
    close_dependencies(out);
    size_t used = 0;
#define EMBP_X(f)                                                                                  \
    if (base->f && !out->f && used + sizeof(#f) + 1 < sizeof out->masked)                          \
        used += (size_t)snprintf(out->masked + used, sizeof out->masked - used, "%s%s",            \
                                 used ? "," : "", #f);
    EMBP_CPU_FEATURE_LIST(EMBP_X)
#undef EMBP_X
    return EMBP_OK;
}

static void init_once(void) {
    probe(&g_unmasked);
    embp_error err;
    if (embp_cpu_mask(&g_unmasked, getenv("EMBP_CPU_FEATURES"), &g_cpu, &err) != EMBP_OK) {
        fprintf(stderr, "embp: %s (mask ignored)\n", err.msg);
        g_cpu = g_unmasked;
    }
}

const embp_cpu *embp_cpu_get(void) {
    call_once(&g_once, init_once);
    return &g_cpu;
}

const embp_cpu *embp_cpu_get_unmasked(void) {
    call_once(&g_once, init_once);
    return &g_unmasked;
}

void embp_cpu_features_str(const embp_cpu *cpu, char *buf, size_t size) {
    size_t used = 0;
    if (size)
        buf[0] = '\0';
#define EMBP_X(f)                                                                                  \
    if (cpu->f && used + sizeof(#f) + 1 < size)                                                    \
        used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? " " : "", #f);
    EMBP_CPU_FEATURE_LIST(EMBP_X)
#undef EMBP_X
}

int embp_cpu_has_avx512(const embp_cpu *cpu) {
    return cpu->avx512f && cpu->avx512bw && cpu->avx512vl;
}

int embp_cpu_has_avx2(const embp_cpu *cpu) {
    return cpu->avx2 && cpu->fma && cpu->f16c;
}

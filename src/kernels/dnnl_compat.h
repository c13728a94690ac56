/* dnnl_compat.h: the few oneDNN C calls whose form changed from 2.x (Debian 12 ships 2.6) to
 * 3.x (Debian 13 ships 3.7), under one set of names, so matmul.c is written once.
 * What 3.x changed that embp uses: memory descriptors became objects made and destroyed
 * (2.x: structs held by value), operation descriptors went away (dnnl_matmul_desc_init: the
 * primitive descriptor is made from the memory descriptors directly), and the eltwise post-op
 * lost its scale argument. embp's int8 path takes s32 from oneDNN and scales in its own
 * epilogue, so neither version's scale/zero-point attributes are used. Not a general shim:
 * only what embp calls. */
#ifndef EMBP_KERNELS_DNNL_COMPAT_H
#define EMBP_KERNELS_DNNL_COMPAT_H

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_version.h>

/* A memory descriptor the caller owns: declare it as `dnnl_memory_desc_t md = EMBP_DNNL_MD_INIT;`,
 * pass it on as embp_dnnl_md_ref(&md) and release it with embp_dnnl_md_free(&md). */
#define EMBP_DNNL_MD_INIT {0}

#if DNNL_VERSION_MAJOR >= 3
#define EMBP_DNNL_V3 1
typedef const_dnnl_memory_desc_t embp_dnnl_cmd; /* a read-only descriptor, as calls take it */
#else
#define EMBP_DNNL_V3 0
typedef const dnnl_memory_desc_t *embp_dnnl_cmd;
#endif

static inline embp_dnnl_cmd embp_dnnl_md_ref(const dnnl_memory_desc_t *md) {
#if EMBP_DNNL_V3
    return *md;
#else
    return md;
#endif
}

static inline void embp_dnnl_md_free(dnnl_memory_desc_t *md) {
#if EMBP_DNNL_V3
    if (*md)
        dnnl_memory_desc_destroy(*md);
    *md = NULL;
#else
    (void)md; /* a plain struct: nothing to release */
#endif
}

static inline dnnl_status_t embp_dnnl_md_2d(dnnl_memory_desc_t *md, dnnl_dim_t rows,
                                            dnnl_dim_t cols, dnnl_data_type_t dt,
                                            dnnl_format_tag_t tag) {
    dnnl_dims_t d = {rows, cols};
#if EMBP_DNNL_V3
    return dnnl_memory_desc_create_with_tag(md, 2, d, dt, tag);
#else
    return dnnl_memory_desc_init_by_tag(md, 2, d, dt, tag);
#endif
}

/* *md becomes a copy of src that outlives the primitive descriptor src came from. */
static inline dnnl_status_t embp_dnnl_md_copy(dnnl_memory_desc_t *md, embp_dnnl_cmd src) {
#if EMBP_DNNL_V3
    return dnnl_memory_desc_clone(md, src);
#else
    *md = *src;
    return dnnl_success;
#endif
}

/* A matmul primitive descriptor; bias may be NULL, attr may be NULL. */
static inline dnnl_status_t embp_dnnl_matmul_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                                embp_dnnl_cmd src, embp_dnnl_cmd wei,
                                                embp_dnnl_cmd bias, embp_dnnl_cmd dst,
                                                const_dnnl_primitive_attr_t attr) {
#if EMBP_DNNL_V3
    return dnnl_matmul_primitive_desc_create(pd, eng, src, wei, bias, dst, attr);
#else
    dnnl_matmul_desc_t d;
    dnnl_status_t st = dnnl_matmul_desc_init(&d, src, wei, bias, dst);
    return st != dnnl_success ? st : dnnl_primitive_desc_create(pd, &d, attr, eng, NULL);
#endif
}

static inline dnnl_status_t embp_dnnl_append_eltwise(dnnl_post_ops_t po, dnnl_alg_kind_t alg,
                                                     float alpha, float beta) {
#if EMBP_DNNL_V3
    return dnnl_post_ops_append_eltwise(po, alg, alpha, beta);
#else
    return dnnl_post_ops_append_eltwise(po, 1.0f, alg, alpha, beta);
#endif
}

#endif

/* A growing byte buffer and the text writers the server and the command line share: JSON
 * strings, floats as the shortest decimal that reads back exactly, base64. */
#ifndef EMBP_CORE_BUF_H
#define EMBP_CORE_BUF_H

#include <stddef.h>

/* A growing byte buffer. p is heap memory (embp_malloc) the owner frees with embp_buf_free or
 * hands over (e.g. to MHD with MHD_RESPMEM_MUST_FREE after embp_buf_take). A failed allocation
 * sets oom and turns later appends into no-ops, so callers check once at the end. */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} embp_buf;

void embp_buf_free(embp_buf *b);
int embp_buf_reserve(embp_buf *b, size_t extra); /* 1, or 0 and b->oom set */
void embp_buf_append(embp_buf *b, const void *data, size_t n);
void embp_buf_puts(embp_buf *b, const char *s);
/* s as a JSON string literal, quotes included, escaping what JSON requires. */
void embp_buf_json_string(embp_buf *b, const char *s, size_t n);

/* Writes the shortest decimal that strtof reads back as exactly x into out (room for 32),
 * returns its length. x must be finite. */
int embp_format_float(float x, char out[32]);
/* The same by printf and strtof (slow, simple): the reference the fast path is tested against. */
int embp_format_float_ref(float x, char out[32]);

/* Writes the base64 (RFC 4648, padded) of n bytes at data. */
void embp_buf_base64(embp_buf *b, const unsigned char *data, size_t n);

#endif

/* Times tokenizer.json loading and encoding: bench_tokenizer [tokenizer.json [texts.txt]].
 * Defaults: the shared MiniLM tokenizer and tests/data/tokenizer_corpus.txt. Checks that every
 * line encodes, then reports load ms (best of 5) and encode MB/s and tokens/s: the embedding
 * path's encode (no offsets), and encode with offsets (/tokenize's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/file.h"
#include "tokenizer/tokenizer.h"

/* Encodes every line of text once (with offsets: embp_tokenizer_encode_offsets); returns the
 * ids produced, or -1 on an error. */
static long encode_lines(const embp_tokenizer *t, const char *text, size_t len, int32_t *ids,
                         int offsets) {
    long total = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        int got = 0;
        embp_error err;
        embp_token_offsets *o = NULL;
        embp_status st = offsets ? embp_tokenizer_encode_offsets(t, p, n, NULL, 0, true, false,
                                                                 &o, &got, &err)
                                 : embp_tokenizer_encode(t, p, n, 0, ids, 8192, &got, NULL, &err);
        embp_free(o);
        if (st != EMBP_OK) {
            fprintf(stderr, "encode failed: %s\n", err.msg);
            return -1;
        }
        total += got;
        p += n + 1;
    }
    return total;
}

int main(int argc, char **argv) {
    const char *tj = argc > 1 ? argv[1] : "../shared/models/all-MiniLM-L6-v2/tokenizer.json";
    const char *tx = argc > 2 ? argv[2] : "tests/data/tokenizer_corpus.txt";
    size_t len;
    char *text;
    embp_error err;
    if (embp_read_file(tx, 0, &text, &len, &err) != EMBP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int32_t *ids = malloc(8192 * sizeof *ids);
    if (!ids) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    embp_tokenizer *t = NULL;
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        embp_tokenizer_free(t);
        double t0 = embp_clock_s(CLOCK_MONOTONIC);
        if (embp_tokenizer_load(tj, &t, &err) != EMBP_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double dt = embp_clock_s(CLOCK_MONOTONIC) - t0;
        best = dt < best ? dt : best;
    }
    printf("load %s: %.1f ms (best of 5); vocab %d\n", tj, best * 1e3,
           embp_tokenizer_vocab_size(t));
    for (int offsets = 0; offsets < 2; offsets++) {
        long toks = 0;
        int reps = 0;
        double t0 = embp_clock_s(CLOCK_MONOTONIC), dt = 0;
        while (dt < 1.0) {
            long n = encode_lines(t, text, len, ids, offsets);
            if (n < 0) return 1;
            toks += n;
            reps++;
            dt = embp_clock_s(CLOCK_MONOTONIC) - t0;
        }
        printf("encode%s %s: %.1f MB/s, %.2f M tokens/s (%d passes, %zu bytes each)\n",
               offsets ? " with offsets" : "", tx, (double)len * reps / dt / 1e6,
               (double)toks / dt / 1e6, reps, len);
    }
    embp_tokenizer_free(t);
    free(ids);
    free(text);
    return 0;
}

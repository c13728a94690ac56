/* Client-controlled text on its way into messages and logs: never a UTF-8 character cut in
 * half, never a raw control character in a log line. */
#ifndef EMBP_CORE_TEXT_H
#define EMBP_CORE_TEXT_H

#include <stddef.h>

/* Copies the NUL-terminated in to out (cap bytes, cap >= 4), each invalid UTF-8 byte replaced
 * by U+FFFD, stopping before a character that does not fit whole. Returns out's length. */
size_t embp_utf8_sanitize(const char *in, char *out, size_t cap);

/* Copies in to out (cap bytes, cap >= 8) for a log line: printable ASCII and valid non-ASCII
 * characters (but C1 controls) as they are; '"', '\\', control bytes and invalid UTF-8 as
 * \xHH, so a client cannot start a forged log line or split a character. Stops before an item
 * that does not fit whole, marking the cut with "...". Returns out. */
char *embp_log_escape(const char *in, char *out, size_t cap);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * lib/util: the bottom layer.  Small helpers every other layer and the
 * finalloc command share, written once: one reader for one-value sysfs and
 * procfs files, one JSON writer (the only string escaper), one byte
 * formatter.  Nothing here knows about backends or allocators.
 *
 * Sections are grouped by the file that defines them.
 */
#ifndef FA_UTIL_H
#define FA_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FA__CACHE_LINE  64
#define FA__ALIGNED_CL  __attribute__((aligned(FA__CACHE_LINE)))
#define fa__likely(x)   __builtin_expect(!!(x), 1)
#define fa__unlikely(x) __builtin_expect(!!(x), 0)

/* ---- read.c: sysfs/procfs files and number parsing ---- */

/*
 * Read a whole small file into buf (NUL-terminated, at most len - 1 bytes),
 * trailing newlines and spaces cut.  Returns the length or -errno.
 */
int fa__read_text(const char *path, char *buf, size_t len);
/*
 * Read one unsigned decimal integer, the whole content of a sysfs/procfs
 * file.  0, or -errno: the open/read error, -EINVAL when it is not a number.
 */
int fa__read_u64(const char *path, uint64_t *val);
/* Parse a whole string (decimal, 0x hex, 0 octal; starting with a digit:
 * no sign or blanks); false when malformed or out of range. */
bool fa__parse_u64(const char *s, uint64_t *val);
/* fa__parse_u64 with an optional k/K, m/M or g/G suffix (x 2^10, 2^20,
 * 2^30); false when malformed or the product overflows. */
bool fa__parse_size(const char *s, uint64_t *val);
/* Parse a whole string as a finite or infinite double; false when malformed or NaN. */
bool fa__parse_double(const char *s, double *val);

/* ---- emit.c: the JSON writer and text formatting ---- */

/*
 * A streaming JSON writer: keys and values in order, commas and escaping
 * done here.  pretty indents two spaces a level; compact writes no spaces.
 */
struct fa__json {
	FILE *f;
	int depth;
	bool need_comma;
	bool pretty;
};
void fa__json_init(struct fa__json *j, FILE *f, bool pretty);
void fa__json_begin_obj(struct fa__json *j, const char *key); /* key NULL inside arrays */
void fa__json_end_obj(struct fa__json *j);
void fa__json_begin_arr(struct fa__json *j, const char *key);
void fa__json_end_arr(struct fa__json *j);
void fa__json_str(struct fa__json *j, const char *key, const char *val); /* val NULL: null */
void fa__json_int(struct fa__json *j, const char *key, long long val);
void fa__json_uint(struct fa__json *j, const char *key, unsigned long long val);
void fa__json_num(struct fa__json *j, const char *key, double val); /* NaN, inf: null */
void fa__json_bool(struct fa__json *j, const char *key, bool val);
void fa__json_end(struct fa__json *j); /* final newline, flush */
/* One JSON string literal, quotes included: the escaper everything uses. */
void fa__json_string(FILE *f, const char *s);
/* XML/HTML text or attribute value: the five specials escaped. */
void fa__xml_text(FILE *f, const char *s);
/* "512 B", "1.5 GiB": binary units, one decimal. */
void fa__fmt_bytes(char *buf, size_t len, uint64_t bytes);
/* Nanoseconds since the epoch as ISO 8601 UTC: "2026-12-04T18:04:52.041Z". */
void fa__fmt_time(char *buf, size_t len, uint64_t time_ns);

#endif /* FA_UTIL_H */

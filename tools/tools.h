/* SPDX-License-Identifier: MIT */
/*
 * Declarations shared by the finalloc command's files, grouped by the file
 * that defines them.
 */
#ifndef FA_TOOLS_H
#define FA_TOOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes: 0 ok, 1 the operation failed, 2 bad usage. */
#define EXIT_USAGE 2

/* ---- finalloc.c ---- */
extern const char *prog_name;
/* Print "finalloc CMD: msg" on stderr; returns 1 for `return tool_err(...)`. */
int tool_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Usage error: message, the command's usage on stderr, returns EXIT_USAGE. */
int tool_usage_err(const char *cmd, void (*usage)(FILE *), const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Path of the running executable (for re-exec of bench workers). */
const char *tool_self_exe(void);

/* ---- out.c: JSON writer and small text helpers ---- */
struct json {
	FILE *f;
	int depth;
	bool need_comma;
	bool pretty;
};
void json_init(struct json *j, FILE *f);
void json_begin_obj(struct json *j, const char *key); /* key NULL inside arrays */
void json_end_obj(struct json *j);
void json_begin_arr(struct json *j, const char *key);
void json_end_arr(struct json *j);
void json_str(struct json *j, const char *key, const char *val); /* val NULL: null */
void json_int(struct json *j, const char *key, long long val);
void json_uint(struct json *j, const char *key, unsigned long long val);
void json_num(struct json *j, const char *key, double val); /* NaN: null */
void json_bool(struct json *j, const char *key, bool val);
void json_end(struct json *j);                         /* final newline */
void fmt_bytes(char *buf, size_t len, uint64_t bytes); /* "1.5 GiB" */
/* Read a whole small file (sysfs/procfs) into buf, trailing newline cut.
 * Returns the length or -errno. */
int read_text(const char *path, char *buf, size_t len);
/* Read one unsigned integer from a file; -errno on failure. */
int read_u64(const char *path, uint64_t *val);
/* Parse a whole string as an unsigned/double; false when malformed. */
bool parse_u64(const char *s, uint64_t *val);
bool parse_double(const char *s, double *val);

/* ---- info.c ---- */
void info_usage(FILE *f);
int cmd_info(int argc, char **argv);
/* The host report in text, as the tour prints it. */
int info_print_text(FILE *f);

/* ---- stats.c ---- */
void stats_usage(FILE *f);
int cmd_stats(int argc, char **argv);

/* ---- numa_view.c ---- */
void numa_usage(FILE *f);
int cmd_numa(int argc, char **argv);

/* ---- trace_cmd.c ---- */
void trace_usage(FILE *f);
int cmd_trace(int argc, char **argv);

/* ---- bench.c: driver (the rest of the benchmark lives in bench.h) ---- */
void bench_usage(FILE *f);
int cmd_bench(int argc, char **argv);
/* The tour's short run: FinAlloc's allocators against the system malloc. */
int bench_tour(void);

#endif /* FA_TOOLS_H */

// SPDX-License-Identifier: MIT
/*
 * Output helpers for the finalloc command: a small streaming JSON writer
 * (every command's --json goes through it, so strings are always escaped)
 * and readers for one-value sysfs/procfs files.
 */
#include "tools.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void json_init(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->need_comma = false;
	j->pretty = true;
}

static void json_indent(struct json *j)
{
	if (!j->pretty)
		return;
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void json_key(struct json *j, const char *key)
{
	if (j->need_comma)
		fputc(',', j->f);
	if (j->depth > 0)
		json_indent(j);
	if (key) {
		json_string(j->f, key);
		fputs(j->pretty ? ": " : ":", j->f);
	}
	j->need_comma = true;
}

void json_begin_obj(struct json *j, const char *key)
{
	json_key(j, key);
	fputc('{', j->f);
	j->depth++;
	j->need_comma = false;
}

void json_end_obj(struct json *j)
{
	j->depth--;
	if (j->need_comma)
		json_indent(j);
	fputc('}', j->f);
	j->need_comma = true;
}

void json_begin_arr(struct json *j, const char *key)
{
	json_key(j, key);
	fputc('[', j->f);
	j->depth++;
	j->need_comma = false;
}

void json_end_arr(struct json *j)
{
	j->depth--;
	if (j->need_comma)
		json_indent(j);
	fputc(']', j->f);
	j->need_comma = true;
}

void json_str(struct json *j, const char *key, const char *val)
{
	json_key(j, key);
	if (val)
		json_string(j->f, val);
	else
		fputs("null", j->f);
}

void json_int(struct json *j, const char *key, long long val)
{
	json_key(j, key);
	fprintf(j->f, "%lld", val);
}

void json_uint(struct json *j, const char *key, unsigned long long val)
{
	json_key(j, key);
	fprintf(j->f, "%llu", val);
}

void json_num(struct json *j, const char *key, double val)
{
	json_key(j, key);
	if (isnan(val) || isinf(val))
		fputs("null", j->f);
	else
		fprintf(j->f, "%.6g", val);
}

void json_bool(struct json *j, const char *key, bool val)
{
	json_key(j, key);
	fputs(val ? "true" : "false", j->f);
}

void json_end(struct json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}

void fmt_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	unsigned u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
}

int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, got = 0;

	if (fd < 0)
		return -errno;
	while ((size_t)got < len - 1) {
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return (int)n;
		}
		if (n == 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		buf[--got] = '\0';
	return (int)got;
}

bool parse_u64(const char *s, uint64_t *val)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*val = v;
	return true;
}

bool parse_double(const char *s, double *val)
{
	char *end;
	double v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || isnan(v))
		return false;
	*val = v;
	return true;
}

int read_u64(const char *path, uint64_t *val)
{
	char buf[64];
	int r = read_text(path, buf, sizeof(buf));

	if (r < 0)
		return r;
	return parse_u64(buf, val) ? 0 : -EINVAL;
}

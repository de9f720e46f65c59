// SPDX-License-Identifier: MIT
/*
 * The JSON writer every --json view and fa_pool_print_stats go through, the
 * string escapers (JSON, XML/HTML) written once, and the byte formatter text
 * views share.
 */
#include "util.h"

#include <math.h>
#include <time.h>

void fa__json_init(struct fa__json *j, FILE *f, bool pretty)
{
	j->f = f;
	j->depth = 0;
	j->need_comma = false;
	j->pretty = pretty;
}

static void indent(struct fa__json *j)
{
	if (!j->pretty)
		return;
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* One escaper; each format is a table of replacements (NULL: as is). */
static const char *const json_esc[128] = {
	['"'] = "\\\"", ['\\'] = "\\\\", ['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t",
};
static const char *const xml_esc[128] = {
	['<'] = "&lt;", ['>'] = "&gt;", ['&'] = "&amp;", ['"'] = "&quot;", ['\''] = "&#39;",
};

static void escape(FILE *f, const char *s, const char *const tab[128], bool json)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 128 && tab[*p])
			fputs(tab[*p], f);
		else if (json && *p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
}

void fa__json_string(FILE *f, const char *s)
{
	fputc('"', f);
	escape(f, s, json_esc, true);
	fputc('"', f);
}

void fa__xml_text(FILE *f, const char *s)
{
	escape(f, s, xml_esc, false);
}

static void key(struct fa__json *j, const char *k)
{
	if (j->need_comma)
		fputc(',', j->f);
	if (j->depth > 0)
		indent(j);
	if (k) {
		fa__json_string(j->f, k);
		fputs(j->pretty ? ": " : ":", j->f);
	}
	j->need_comma = true;
}

static void open_(struct fa__json *j, const char *k, int c)
{
	key(j, k);
	fputc(c, j->f);
	j->depth++;
	j->need_comma = false;
}

static void close_(struct fa__json *j, int c)
{
	j->depth--;
	if (j->need_comma)
		indent(j);
	fputc(c, j->f);
	j->need_comma = true;
}

void fa__json_begin_obj(struct fa__json *j, const char *k)
{
	open_(j, k, '{');
}

void fa__json_end_obj(struct fa__json *j)
{
	close_(j, '}');
}

void fa__json_begin_arr(struct fa__json *j, const char *k)
{
	open_(j, k, '[');
}

void fa__json_end_arr(struct fa__json *j)
{
	close_(j, ']');
}

void fa__json_str(struct fa__json *j, const char *k, const char *val)
{
	key(j, k);
	if (val)
		fa__json_string(j->f, val);
	else
		fputs("null", j->f);
}

void fa__json_int(struct fa__json *j, const char *k, long long val)
{
	key(j, k);
	fprintf(j->f, "%lld", val);
}

void fa__json_uint(struct fa__json *j, const char *k, unsigned long long val)
{
	key(j, k);
	fprintf(j->f, "%llu", val);
}

void fa__json_num(struct fa__json *j, const char *k, double val)
{
	key(j, k);
	if (isnan(val) || isinf(val))
		fputs("null", j->f);
	else
		fprintf(j->f, "%.6g", val);
}

void fa__json_bool(struct fa__json *j, const char *k, bool val)
{
	key(j, k);
	fputs(val ? "true" : "false", j->f);
}

void fa__json_end(struct fa__json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}

void fa__fmt_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
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

void fa__fmt_time(char *buf, size_t len, uint64_t time_ns)
{
	time_t t = (time_t)(time_ns / 1000000000u);
	char day[32];
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf, len, "%s.%03uZ", day, (unsigned)(time_ns % 1000000000u / 1000000u));
}

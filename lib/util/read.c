// SPDX-License-Identifier: MIT
/* One-value sysfs/procfs files and whole-string number parsing. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

int fa__read_text(const char *path, char *buf, size_t len)
{
	ssize_t n, got = 0;
	int fd;

	if (!path || !buf || len == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
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

int fa__read_u64(const char *path, uint64_t *val)
{
	char buf[64], *end;
	unsigned long long v;
	int r = fa__read_text(path, buf, sizeof(buf));

	if (r < 0)
		return r;
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*val = v;
	return 0;
}

/* The one number parser: a whole string, decimal, 0x hex or 0 octal,
 * digits first (no sign, no blanks: strtoull would take " -5" as 2^64-5),
 * and with suffixes a k/M/G (binary) multiplier. */
static bool parse_u64(const char *s, uint64_t *val, bool suffix)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return false;
	if (suffix && *end) {
		switch (*end++) {
		case 'k':
		case 'K':
			shift = 10;
			break;
		case 'm':
		case 'M':
			shift = 20;
			break;
		case 'g':
		case 'G':
			shift = 30;
			break;
		default:
			return false;
		}
		if (v > (UINT64_MAX >> shift))
			return false;
	}
	if (*end)
		return false;
	*val = (uint64_t)v << shift;
	return true;
}

bool fa__parse_u64(const char *s, uint64_t *val)
{
	return parse_u64(s, val, false);
}

bool fa__parse_size(const char *s, uint64_t *val)
{
	return parse_u64(s, val, true);
}

bool fa__parse_double(const char *s, double *val)
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

// SPDX-License-Identifier: MIT
/*
 * Allocation journal, reader: a whole journal read into memory and decoded
 * record by record (format: include/finalloc/trace.h), for bin/finalloc and
 * the tests.  The offsets below are those of the structs there, checked in
 * trace.h.
 */
#include "trace/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct site {
	char *file, *func;
	int line;
};

struct fa_trace_reader {
	unsigned char *buf;
	size_t len, pos;
	struct fa_trace_header hdr;
	struct site *sites;
	uint32_t nr_sites;
	bool damaged; /* fa_trace_next stopped at dmg.offset, for good */
	struct fa_trace_damage dmg;
};

/* read(2) until len bytes or EOF; the bytes read, -errno on error. */
static ssize_t read_full(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

struct fa_trace_reader *fa_trace_reader_open(const char *path)
{
	struct fa_trace_reader *r = NULL;
	unsigned char magic[8];
	struct stat st;
	uint32_t hsize;
	ssize_t n;
	int fd, err;

	if (!path) {
		errno = EINVAL;
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	/* Only a regular file has a size to bound the read by: /dev/zero or
	 * a pipe would be read until memory runs out. */
	err = EINVAL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		goto fail;
	err = EBADMSG;
	if ((uint64_t)st.st_size < sizeof(struct fa_trace_file_header))
		goto fail;
	err = EFBIG;
	if ((uint64_t)st.st_size > SIZE_MAX / 2)
		goto fail;
	/* the magic first: a large file that is not a journal is not read */
	err = EBADMSG;
	if (pread(fd, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic) ||
	    memcmp(magic, FA_TRACE_MAGIC, 8))
		goto fail;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto nomem;
	/* what the file holds now; a journal still being written grows
	 * past it, and a later open sees the rest */
	r->buf = malloc((size_t)st.st_size);
	if (!r->buf)
		goto nomem;
	n = read_full(fd, r->buf, (size_t)st.st_size);
	if (n < 0) {
		err = (int)-n;
		goto fail;
	}
	r->len = (size_t)n;
	close(fd);
	fd = -1;
	err = EBADMSG;
	if (r->len < sizeof(struct fa_trace_file_header) || memcmp(r->buf, FA_TRACE_MAGIC, 8))
		goto fail;
	memcpy(&r->hdr.version, r->buf + 8, 4);
	memcpy(&hsize, r->buf + 12, 4);
	memcpy(&r->hdr.start_ns, r->buf + 16, 8);
	memcpy(&r->hdr.start_real, r->buf + 24, 8);
	memcpy(&r->hdr.pid, r->buf + 32, 4);
	if (r->hdr.version > FA_TRACE_VERSION) {
		err = EPROTONOSUPPORT;
		goto fail;
	}
	if (hsize < sizeof(struct fa_trace_file_header) || hsize > r->len)
		goto fail;
	r->pos = hsize;
	return r;
nomem:
	err = ENOMEM;
fail:
	if (fd >= 0)
		close(fd);
	fa_trace_reader_close(r);
	errno = err;
	return NULL;
}

int fa_trace_reader_header(struct fa_trace_reader *r, struct fa_trace_header *h)
{
	if (!r || !h)
		return -EINVAL;
	*h = r->hdr;
	return 0;
}

static uint16_t rd16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* A SITE record check_record passed. */
static int add_site(struct fa_trace_reader *r, const unsigned char *p)
{
	uint32_t id = rd32(p + 4);
	uint16_t fl = rd16(p + 16), gl = rd16(p + 18);
	struct site *s;

	if (id >= r->nr_sites) {
		uint32_t n = r->nr_sites ? r->nr_sites : 64;
		struct site *ns;

		while (n <= id)
			n *= 2;
		ns = realloc(r->sites, n * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		memset(ns + r->nr_sites, 0, (n - r->nr_sites) * sizeof(*ns));
		r->sites = ns;
		r->nr_sites = n;
	}
	s = &r->sites[id];
	free(s->file);
	free(s->func);
	s->file = strndup((const char *)p + 24, fl);
	s->func = strndup((const char *)p + 24 + fl, gl);
	s->line = (int)rd32(p + 8);
	return s->file && s->func ? 0 : -ENOMEM;
}

static const char *type_name(uint16_t type)
{
	static const char *const names[] = {
		NULL, "SITE", "ALLOC", "ARENA", "DROP", "END", "FREE"
	};

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : NULL;
}

/* Decoding stops at the record at r->pos, which is not decoded: the
 * records before it are the journal's good prefix.  fmt says what was
 * expected there. */
__attribute__((format(printf, 4, 5))) static int damage(struct fa_trace_reader *r, bool truncated,
                                                        uint16_t len, const char *fmt, ...)
{
	struct fa_trace_damage *d = &r->dmg;
	va_list ap;

	memset(d, 0, sizeof(*d));
	d->offset = r->pos;
	d->file_size = r->len;
	d->truncated = truncated;
	if (r->len - r->pos >= 4) {
		d->type = rd16(r->buf + r->pos);
		d->len = len;
	}
	va_start(ap, fmt);
	vsnprintf(d->what, sizeof(d->what), fmt, ap);
	va_end(ap);
	r->damaged = true;
	return -EBADMSG;
}

/* The smallest len of a known type, 8 for the others. */
static uint16_t min_len(uint16_t type)
{
	switch (type) {
	case FA_TRACE_SITE:
	case FA_TRACE_DROP:
		return 24;
	case FA_TRACE_ALLOC:
		return 48;
	case FA_TRACE_ARENA:
	case FA_TRACE_END:
		return 32;
	case FA_TRACE_FREE:
		return 40;
	default:
		return 8;
	}
}

static bool all_zero(const unsigned char *p, size_t n)
{
	while (n && !*p) {
		p++;
		n--;
	}
	return !n;
}

/* Check the record at r->pos before anything of it is used. */
static int check_record(struct fa_trace_reader *r)
{
	size_t left = r->len - r->pos;
	const unsigned char *p = r->buf + r->pos;
	uint16_t type, len, need;
	const char *name;
	char tn[24];

	if (left < 4)
		return damage(r, true, 0, "a record head (4 bytes), %zu byte%s left", left,
		              left == 1 ? "" : "s");
	type = rd16(p);
	len = rd16(p + 2);
	name = type_name(type);
	if (!name) {
		snprintf(tn, sizeof(tn), "type %u", type);
		name = tn;
	}
	need = min_len(type);
	if (!type && !len && all_zero(p, left)) /* writes that never landed */
		return damage(r, true, 0, "a record, not %zu bytes of zeros to the end", left);
	if (len < need || len % 8)
		return damage(r, false, len,
		              "a %s record of a multiple of 8 bytes, at least %u; its head says %u",
		              name, need, len);
	if (len > left)
		return damage(r, true, len, "a %u-byte %s record, %zu byte%s left", len, name, left,
		              left == 1 ? "" : "s");
	if (type == FA_TRACE_SITE) {
		uint32_t id = rd32(p + 4);

		if (24u + rd16(p + 16) + rd16(p + 18) > len || id == 0 ||
		    id >= FA__TRACE_MAX_SITE_ID)
			return damage(r, false, len,
			              "a SITE record with an id of 1..%u and names within its %u "
			              "bytes",
			              FA__TRACE_MAX_SITE_ID - 1, len);
	}
	return 0;
}

int fa_trace_next(struct fa_trace_reader *r, struct fa_trace_event *ev)
{
	if (!r || !ev)
		return -EINVAL;
	for (;;) {
		const unsigned char *p = r->buf + r->pos;
		uint16_t type, len;
		int err;

		if (r->damaged)
			return -EBADMSG;
		if (r->pos == r->len)
			return 0;
		err = check_record(r);
		if (err)
			return err;
		type = rd16(p);
		len = rd16(p + 2);
		if (type == FA_TRACE_SITE) {
			err = add_site(r, p);
			if (err)
				return err; /* -ENOMEM: not a damaged journal, pos left */
			r->pos += len;
			continue;
		}
		r->pos += len;
		memset(ev, 0, sizeof(*ev));
		ev->type = type;
		switch (type) {
		case FA_TRACE_ALLOC: {
			uint32_t id = rd32(p + 4);

			ev->time_ns = rd64(p + 8);
			ev->arena = rd64(p + 16);
			ev->addr = rd64(p + 24);
			ev->size = rd64(p + 32);
			ev->align = rd32(p + 40);
			ev->tid = rd32(p + 44);
			if (id < r->nr_sites && r->sites[id].file) {
				ev->file = r->sites[id].file;
				ev->func = r->sites[id].func;
				ev->line = r->sites[id].line;
			}
			return 1;
		}
		case FA_TRACE_ARENA:
			ev->event = rd16(p + 4);
			ev->time_ns = rd64(p + 8);
			ev->arena = rd64(p + 16);
			ev->tid = rd32(p + 24);
			return 1;
		case FA_TRACE_FREE:
			ev->tid = rd32(p + 4);
			ev->time_ns = rd64(p + 8);
			ev->arena = rd64(p + 16);
			ev->addr = rd64(p + 24);
			ev->size = rd64(p + 32);
			return 1;
		case FA_TRACE_DROP:
			ev->tid = rd32(p + 4);
			ev->time_ns = rd64(p + 8);
			ev->count = rd64(p + 16);
			return 1;
		case FA_TRACE_END:
			ev->count = rd64(p + 8);
			ev->dropped = rd64(p + 16);
			ev->time_ns = rd64(p + 24);
			return 1;
		default:
			continue; /* newer record type: skip by len */
		}
	}
}

int fa_trace_reader_damage(struct fa_trace_reader *r, struct fa_trace_damage *d)
{
	if (!r || !d)
		return -EINVAL;
	if (!r->damaged)
		return -ENOENT;
	*d = r->dmg;
	return 0;
}

void fa_trace_reader_close(struct fa_trace_reader *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->nr_sites; i++) {
		free(r->sites[i].file);
		free(r->sites[i].func);
	}
	free(r->sites);
	free(r->buf);
	free(r);
}

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
#include <stdlib.h>
#include <string.h>
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
};

struct fa_trace_reader *fa_trace_reader_open(const char *path)
{
	struct fa_trace_reader *r;
	size_t cap = 1 << 16;
	uint32_t hsize;
	int fd, err;

	if (!path) {
		errno = EINVAL;
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto nomem;
	for (;;) {
		unsigned char *nb;
		ssize_t n;

		if (r->len == cap || !r->buf) {
			cap = r->buf ? cap * 2 : cap;
			nb = realloc(r->buf, cap);
			if (!nb)
				goto nomem;
			r->buf = nb;
		}
		n = read(fd, r->buf + r->len, cap - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			goto fail;
		}
		if (n == 0)
			break;
		r->len += (size_t)n;
	}
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

static int add_site(struct fa_trace_reader *r, const unsigned char *p, uint16_t len)
{
	uint32_t id = rd32(p + 4);
	uint16_t fl = rd16(p + 16), gl = rd16(p + 18);
	struct site *s;

	if (24u + fl + gl > len || id == 0 || id >= FA__TRACE_MAX_SITE_ID)
		return -EBADMSG;
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

int fa_trace_next(struct fa_trace_reader *r, struct fa_trace_event *ev)
{
	if (!r || !ev)
		return -EINVAL;
	for (;;) {
		const unsigned char *p = r->buf + r->pos;
		uint16_t type, len;
		int err;

		if (r->pos == r->len)
			return 0;
		if (r->len - r->pos < 4)
			return -EBADMSG;
		type = rd16(p);
		len = rd16(p + 2);
		if (len < 8 || len % 8 || len > r->len - r->pos)
			return -EBADMSG;
		r->pos += len;
		memset(ev, 0, sizeof(*ev));
		ev->type = type;
		switch (type) {
		case FA_TRACE_SITE:
			if (len < 24)
				return -EBADMSG;
			err = add_site(r, p, len);
			if (err)
				return err;
			continue;
		case FA_TRACE_ALLOC: {
			uint32_t id = rd32(p + 4);

			if (len < 48)
				return -EBADMSG;
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
			if (len < 32)
				return -EBADMSG;
			ev->event = rd16(p + 4);
			ev->time_ns = rd64(p + 8);
			ev->arena = rd64(p + 16);
			ev->tid = rd32(p + 24);
			return 1;
		case FA_TRACE_DROP:
			if (len < 24)
				return -EBADMSG;
			ev->tid = rd32(p + 4);
			ev->time_ns = rd64(p + 8);
			ev->count = rd64(p + 16);
			return 1;
		case FA_TRACE_END:
			if (len < 32)
				return -EBADMSG;
			ev->count = rd64(p + 8);
			ev->dropped = rd64(p + 16);
			ev->time_ns = rd64(p + 24);
			return 1;
		default:
			continue; /* newer record type: skip by len */
		}
	}
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

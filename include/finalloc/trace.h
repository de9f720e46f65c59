/* SPDX-License-Identifier: MIT */
/*
 * The allocation journal's file format, version 1, as structs: what
 * fa_trace_open() writes and fa_trace_reader_open() reads, byte for byte.
 * Part of finalloc.h: never include this file directly.
 *
 * All integers are little-endian.  Every field is at its natural alignment
 * and padding is spelled out as fields, so the structs have no hidden holes
 * (the library checks each size and offset with _Static_assert).  A file is
 * one struct fa_trace_file_header, then records from header_size on; every
 * record starts with struct fa_trace_rec (type, len: a multiple of 8), and
 * a reader skips a type it does not know by len.  The prose (ordering,
 * drops, SITE ids) is in fa_trace_open(3), "File format".
 * The format is versioned by FA_TRACE_VERSION, not by the soname.
 */
#ifndef FINALLOC_TRACE_H
#define FINALLOC_TRACE_H

#ifndef FINALLOC_H
#error "include <finalloc.h>, not <finalloc/trace.h>"
#endif

#define FA_TRACE_VERSION 1
#define FA_TRACE_MAGIC   "FAJRNL\0\1" /* 8 bytes, no terminator */

/* fa_trace_rec.type */
#define FA_TRACE_SITE  1
#define FA_TRACE_ALLOC 2
#define FA_TRACE_ARENA 3
#define FA_TRACE_DROP  4
#define FA_TRACE_END   5
#define FA_TRACE_FREE  6 /* added within version 1: older readers skip it by len */

/*
 * Sources.  The 64-bit "arena" of ALLOC, ARENA and FREE records names the
 * allocator a record is about: its top 8 bits say which kind (an arena's
 * are 0, as in journals of 1.0), the rest count allocators of that kind
 * from 1.  Arenas journal every allocation (above their thresholds); pools
 * and NUMA allocators their large ones (above the classes), and the frees
 * of those.  An ARENA record's CREATE and DESTROY are for every source;
 * RESET only for arenas.
 */
#define FA_TRACE_SRC_ARENA     0
#define FA_TRACE_SRC_POOL      1
#define FA_TRACE_SRC_NUMA      2
#define FA_TRACE_SRC_SHIFT     56
#define FA_TRACE_SOURCE(id)    ((unsigned)((id) >> FA_TRACE_SRC_SHIFT))
#define FA_TRACE_SOURCE_NR(id) ((id) & ((1ull << FA_TRACE_SRC_SHIFT) - 1))

/* fa_trace_rec_arena.event */
#define FA_TRACE_EV_CREATE  1
#define FA_TRACE_EV_RESET   2
#define FA_TRACE_EV_DESTROY 3

struct fa_trace_file_header { /* 64 bytes, at offset 0 */
	char magic[8];        /* FA_TRACE_MAGIC */
	uint32_t version;     /* FA_TRACE_VERSION */
	uint32_t header_size; /* 64: records start here */
	uint64_t start_ns;    /* CLOCK_MONOTONIC at open */
	uint64_t start_real;  /* CLOCK_REALTIME, ns since the epoch, at open */
	uint32_t pid;
	uint32_t flags;       /* 0 */
	uint8_t reserved[24]; /* 0 */
};

struct fa_trace_rec {  /* the start of every record */
	uint16_t type; /* FA_TRACE_* */
	uint16_t len;  /* whole record, bytes, a multiple of 8 */
};

/* Defines site before any record of the same thread that uses it; len is
 * 24 + file_len + func_len rounded up to 8. */
struct fa_trace_rec_site { /* 24 bytes + names */
	uint16_t type, len;
	uint32_t site; /* id, 1..2^24-1 */
	uint32_t line;
	uint32_t tid;
	uint16_t file_len;
	uint16_t func_len;
	uint32_t reserved; /* 0 */
	                   /* then file_len bytes of file and func_len of func, no NULs, zero
	                    * padding to len */
};

struct fa_trace_rec_alloc { /* 48 bytes */
	uint16_t type, len;
	uint32_t site;    /* a SITE record's id; 0: the caller gave none */
	uint64_t time_ns; /* since start_ns */
	uint64_t arena;   /* source id (see FA_TRACE_SOURCE) */
	uint64_t addr;
	uint64_t size;
	uint32_t align;
	uint32_t tid;
};

struct fa_trace_rec_arena { /* 32 bytes */
	uint16_t type, len;
	uint16_t event; /* FA_TRACE_EV_* */
	uint16_t pad;   /* 0 */
	uint64_t time_ns;
	uint64_t arena; /* source id */
	uint32_t tid;
	uint32_t pad2; /* 0 */
};

/* A journaled large allocation freed (pools, NUMA allocators). */
struct fa_trace_rec_free { /* 40 bytes */
	uint16_t type, len;
	uint32_t tid;
	uint64_t time_ns;
	uint64_t arena; /* source id, as in its ALLOC */
	uint64_t addr;
	uint64_t size; /* as allocated */
};

/* Records this thread dropped because its ring was full, just before. */
struct fa_trace_rec_drop { /* 24 bytes */
	uint16_t type, len;
	uint32_t tid;
	uint64_t time_ns;
	uint64_t count;
};

/* Written by fa_trace_close() (and at exit): the last record. */
struct fa_trace_rec_end { /* 32 bytes */
	uint16_t type, len;
	uint32_t pad; /* 0 */
	uint64_t records;
	uint64_t dropped;
	uint64_t time_ns;
};

#endif /* FINALLOC_TRACE_H */

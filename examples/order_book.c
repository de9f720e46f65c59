// SPDX-License-Identifier: MIT
/*
 * order_book.c: a limit order book on a FinAlloc pool, with a second thread
 * freeing what the book is done with.
 *
 * The matching thread allocates every incoming order from a fixed-size pool
 * (fa_pool_alloc: its own thread cache, no lock).  Filled and cancelled
 * orders go through a single-producer single-consumer ring to a
 * "retirement" thread (the place for drop copies, audit logs, ...), which
 * checks them and gives them back with fa_pool_free_sized from its own
 * thread: any thread may free pool memory.
 *
 *   cc -O2 -Iinclude examples/order_book.c build/libfinalloc.a \
 *      -lnuma -luring -lpthread -o order_book
 *
 * Exits 0 when every order was accounted for and the pool is empty at the
 * end, 1 otherwise.
 */
#include <finalloc.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LEVELS 64     /* price levels 0..63 */
#define ORDERS 200000 /* incoming orders to simulate */
#define RING   1024   /* ring slots, a power of two */

struct order {
	uint64_t id;
	uint32_t qty;  /* open quantity */
	uint32_t orig; /* quantity at entry */
	int price, side;
	struct order *next; /* FIFO at its price level */
};

struct level {
	struct order *head, *tail;
};

/* Single producer (matching), single consumer (retirement). */
static struct {
	_Alignas(64) _Atomic uint64_t head;
	_Alignas(64) _Atomic uint64_t tail;
	_Alignas(64) struct order *slot[RING];
} ring;

static struct fa_pool *orders;
static uint64_t retired_qty_open; /* retirement thread's: open qty at exit */
static uint64_t retired, bad;     /* retirement thread's counts */

static void ring_push(struct order *o)
{
	uint64_t t = atomic_load_explicit(&ring.tail, memory_order_relaxed);

	while (t - atomic_load_explicit(&ring.head, memory_order_acquire) == RING)
		sched_yield(); /* full: the consumer is behind (a real one would spin) */
	ring.slot[t % RING] = o;
	atomic_store_explicit(&ring.tail, t + 1, memory_order_release);
}

static struct order *ring_pop(void)
{
	uint64_t h = atomic_load_explicit(&ring.head, memory_order_relaxed);
	struct order *o;

	while (atomic_load_explicit(&ring.tail, memory_order_acquire) == h)
		sched_yield();
	o = ring.slot[h % RING];
	atomic_store_explicit(&ring.head, h + 1, memory_order_release);
	return o;
}

/* The retirement thread: check, then free from this thread. NULL ends. */
static void *retire(void *arg)
{
	struct order *o;

	(void)arg;
	while ((o = ring_pop()) != NULL) {
		if (o->qty > o->orig || o->price < 0 || o->price >= LEVELS)
			bad++;
		retired_qty_open += o->qty;
		retired++;
		fa_pool_free_sized(orders, o, sizeof(*o));
	}
	return NULL;
}

static struct level book[2][LEVELS]; /* [0] bids, [1] asks */

static void rest(struct order *o)
{
	struct level *l = &book[o->side][o->price];

	o->next = NULL;
	if (l->tail)
		l->tail->next = o;
	else
		l->head = o;
	l->tail = o;
}

static struct order *pop_head(struct level *l)
{
	struct order *o = l->head;

	l->head = o->next;
	if (!l->head)
		l->tail = NULL;
	return o;
}

/* Match o against the other side, best price first; return qty traded. */
static uint64_t match(struct order *o)
{
	uint64_t traded = 0;

	for (int i = 0; i < LEVELS && o->qty; i++) {
		int px = o->side == 0 ? i : LEVELS - 1 - i; /* a buy takes the lowest ask */
		struct level *l = &book[!o->side][px];

		if (o->side == 0 ? px > o->price : px < o->price)
			break;
		while (l->head && o->qty) {
			struct order *r = l->head;
			uint32_t q = r->qty < o->qty ? r->qty : o->qty;

			r->qty -= q;
			o->qty -= q;
			traded += q;
			if (r->qty == 0)
				ring_push(pop_head(l)); /* filled: retire */
		}
	}
	return traded;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int main(void)
{
	struct fa_pool_opts po = { .name = "orders", .obj_size = sizeof(struct order) };
	static struct fa_pool_stats st; /* large: off the stack */
	uint64_t seed = 42, entered = 0, traded = 0, cancelled = 0;
	pthread_t retirer;
	int ok = 1;

	orders = fa_pool_create(&po);
	if (!orders) {
		perror("fa_pool_create");
		return 1;
	}
	if ((errno = pthread_create(&retirer, NULL, retire, NULL)) != 0) {
		perror("pthread_create");
		return 1;
	}
	for (uint64_t id = 1; id <= ORDERS; id++) {
		struct order *o = fa_pool_alloc(orders, sizeof(*o));
		uint64_t r = rnd(&seed);

		if (!o) {
			perror("fa_pool_alloc");
			return 1;
		}
		o->id = id;
		o->side = r & 1;
		/* prices around the middle, so the two sides cross */
		o->price = LEVELS / 2 - 8 + (int)(r >> 8) % 16;
		o->orig = o->qty = 1 + (uint32_t)(r >> 20) % 100;
		entered += o->qty;
		traded += match(o);
		if (o->qty)
			rest(o);
		else
			ring_push(o);
		if (r % 8 == 0) { /* now and then, cancel the oldest order of a level */
			struct level *l = &book[(r >> 40) & 1][(r >> 44) % LEVELS];

			if (l->head) {
				cancelled += l->head->qty;
				ring_push(pop_head(l));
			}
		}
	}
	/* End of day: everything still resting is cancelled. */
	for (int s = 0; s < 2; s++)
		for (int px = 0; px < LEVELS; px++)
			while (book[s][px].head) {
				cancelled += book[s][px].head->qty;
				ring_push(pop_head(&book[s][px]));
			}
	ring_push(NULL);
	pthread_join(retirer, NULL);

	/* Every unit entered was traded (on both sides) or cancelled. */
	if (entered != 2 * traded + cancelled || retired_qty_open != cancelled) {
		fprintf(stderr, "order_book: %llu entered, %llu traded, %llu cancelled\n",
		        (unsigned long long)entered, (unsigned long long)traded,
		        (unsigned long long)cancelled);
		ok = 0;
	}
	if (retired != ORDERS || bad) {
		fprintf(stderr, "order_book: %llu retired of %d, %llu bad\n",
		        (unsigned long long)retired, ORDERS, (unsigned long long)bad);
		ok = 0;
	}
	if (fa_pool_stats(orders, &st) != 0 || st.live != 0 || st.allocs != ORDERS) {
		fprintf(stderr, "order_book: pool has %llu live of %llu allocations\n",
		        (unsigned long long)st.live, (unsigned long long)st.allocs);
		ok = 0;
	}
	printf("order_book: %d orders, %llu traded, %llu cancelled; pool %s\n", ORDERS,
	       (unsigned long long)traded, (unsigned long long)cancelled,
	       ok ? "empty" : "NOT empty");
	fa_pool_print_stats(orders, stdout, FA_POOL_FMT_TEXT);
	fa_pool_destroy(orders);
	return ok ? 0 : 1;
}

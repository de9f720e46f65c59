// SPDX-License-Identifier: MIT
/*
 * finalloc.hpp: the C++17 layer over libfinalloc, header-only.  See
 * finalloc.hpp(3).
 *
 * Errors: the C functions give NULL and errno; here an allocation that fails
 * throws std::bad_alloc, and a constructor whose fa_*_create fails throws
 * std::system_error with that errno (generic_category).  Nothing here adds
 * locking: an arena (and arena_resource) has one user at a time, as in C;
 * pools and fa_numa are thread-safe, so are pool_resource, numa_resource and
 * pool_allocator.
 */
#ifndef FINALLOC_HPP
#define FINALLOC_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "finalloc.hpp needs C++17 or later; C programs include <finalloc.h>"
#endif

#include "finalloc.h"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory_resource>
#include <new>
#include <system_error>
#include <type_traits>
#include <utility>

namespace fa
{

namespace detail
{

[[noreturn]] inline void throw_create(const char *what)
{
	throw std::system_error(errno ? errno : ENOMEM, std::generic_category(), what);
}

// Requests aligned beyond what an allocator gives (base) take size + align
// bytes and keep the allocator's pointer in the word below the aligned one:
// base >= 8 leaves at least one word below it.
inline void *align_up_store(void *raw, std::size_t align) noexcept
{
	std::uintptr_t p = (reinterpret_cast<std::uintptr_t>(raw) + align) & ~(align - 1);

	reinterpret_cast<void **>(p)[-1] = raw;
	return reinterpret_cast<void *>(p);
}

inline void *stored_raw(void *p) noexcept
{
	return static_cast<void **>(p)[-1];
}

inline bool overaligned(std::size_t align, std::size_t base) noexcept
{
	return align > base;
}

inline std::size_t padded(std::size_t bytes, std::size_t align)
{
	if (bytes > std::numeric_limits<std::size_t>::max() - align)
		throw std::bad_alloc();
	return bytes + align;
}

inline std::size_t checked_align(std::size_t align)
{
	if (align == 0 || (align & (align - 1)))
		throw std::bad_alloc(); // not a power of two: no allocator could honour it
	return align;
}

// Every pool aligns to 8 at least (fa_pool_opts.align is 8..4096): a type
// aligned no more than that needs no test of the pool's base alignment.
constexpr std::size_t pool_min_align = 8;

inline void *pool_alloc_small(fa_pool *p, std::size_t bytes)
{
	void *o = fa_pool_alloc(p, bytes ? bytes : 1);

	if (!o)
		throw std::bad_alloc();
	return o;
}

inline void pool_free_small(fa_pool *p, void *o, std::size_t bytes) noexcept
{
	fa_pool_free_sized(p, o, bytes ? bytes : 1);
}

inline void *pool_alloc(fa_pool *p, std::size_t base, std::size_t bytes, std::size_t align)
{
	if (bytes == 0)
		bytes = 1; // C refuses size 0; C++ allocations of 0 give a unique pointer
	if (!overaligned(checked_align(align), base)) {
		void *o = fa_pool_alloc(p, bytes);

		if (!o)
			throw std::bad_alloc();
		return o;
	}
	void *raw = fa_pool_alloc(p, padded(bytes, align));

	if (!raw)
		throw std::bad_alloc();
	return align_up_store(raw, align);
}

inline void pool_free(fa_pool *p, std::size_t base, void *o, std::size_t bytes,
                      std::size_t align) noexcept
{
	if (bytes == 0)
		bytes = 1;
	if (!overaligned(align, base))
		fa_pool_free_sized(p, o, bytes);
	else
		fa_pool_free_sized(p, stored_raw(o), bytes + align);
}

template <class T> void destroy_thunk(void *p) noexcept
{
	static_cast<T *>(p)->~T();
}

} // namespace detail

// The alignment every allocation of a pool created with opts gets.
inline std::size_t pool_base_align(const fa_pool_opts *opts) noexcept
{
	if (opts && opts->align)
		return opts->align;
	if (opts && opts->obj_size && opts->obj_size % 16)
		return 8;
	return FA_ARENA_MIN_ALIGN; // 16, the pools' default
}

/* ---- arena ---- */

class arena
{
      public:
	// opts NULL: defaults.  Throws std::system_error (errno of fa_arena_create).
	explicit arena(const fa_arena_opts *opts = nullptr) : a_(fa_arena_create(opts))
	{
		if (!a_)
			detail::throw_create("fa_arena_create");
	}
	~arena()
	{
		fa_arena_destroy(a_);
	}

	arena(arena &&o) noexcept : a_(std::exchange(o.a_, nullptr))
	{
	}
	arena &operator=(arena &&o) noexcept
	{
		if (this != &o) {
			fa_arena_destroy(a_);
			a_ = std::exchange(o.a_, nullptr);
		}
		return *this;
	}
	arena(const arena &) = delete;
	arena &operator=(const arena &) = delete;

	// The C arena (NULL after a move).
	fa_arena *get() const noexcept
	{
		return a_;
	}
	explicit operator bool() const noexcept
	{
		return a_ != nullptr;
	}

	// Raw memory: the C inline bump.  Throws std::bad_alloc.
	void *allocate(std::size_t size, std::size_t align = FA_ARENA_MIN_ALIGN)
	{
		void *p = fa_arena_alloc_aligned(a_, size, align);

		if (!p)
			throw std::bad_alloc();
		return p;
	}

	// A T made in the arena; ~T runs at reset or destruction, last first,
	// unless T is trivially destructible.  Throws std::bad_alloc, or what
	// T's constructor throws: then nothing is registered, and the memory
	// is rewound when it was the last bump.
	template <class T, class... Args> T *construct(Args &&...args)
	{
		static_assert(
		        !std::is_array_v<T> && !std::is_reference_v<T>,
		        "fa::arena::construct<T>: T is an object type, not an array or reference");
		void *mem = allocate(sizeof(T), alignof(T));
		T *obj;

		try {
			obj = ::new (mem) T(std::forward<Args>(args)...);
		} catch (...) {
			rewind(mem, sizeof(T));
			throw;
		}
		if constexpr (!std::is_trivially_destructible_v<T>) {
			if (fa_arena_on_destroy(a_, &detail::destroy_thunk<T>, obj) != 0) {
				obj->~T();
				rewind(mem, sizeof(T));
				throw std::bad_alloc();
			}
		}
		return obj;
	}

	// Destructors last-first, then rewind (fa_arena_reset).
	void reset() noexcept
	{
		fa_arena_reset(a_);
	}

	// Throws std::system_error (EINVAL after a move).
	struct fa_arena_stats stats() const
	{
		struct fa_arena_stats st {
		};
		int err = fa_arena_stats(a_, &st);

		if (err)
			throw std::system_error(-err, std::generic_category(), "fa_arena_stats");
		return st;
	}

      private:
	// Undo the bump of mem when nothing came after it (the cursor is the
	// public inline-path state, see finalloc/arena.h).
	void rewind(void *mem, std::size_t size) noexcept
	{
		auto *c = reinterpret_cast<fa_arena_cursor *>(a_);
		constexpr std::size_t mask = FA_ARENA_MIN_ALIGN - 1;
		std::size_t n = (size + mask) & ~mask;

		if (c->ptr == static_cast<char *>(mem) + n)
			c->ptr = static_cast<char *>(mem);
	}

	fa_arena *a_;
};

/* ---- typed fixed-size pool ---- */

template <class T> class pool
{
	static_assert(alignof(T) <= 4096, "fa::pool<T>: alignof(T) above 4096, the pools' largest");
	static constexpr std::size_t align_ = alignof(T) < 8 ? 8 : alignof(T);
	static constexpr std::size_t size_ = (sizeof(T) + align_ - 1) & ~(align_ - 1);
	static_assert(
	        size_ <= FA_POOL_SMALL_MAX,
	        "fa::pool<T>: sizeof(T) above FA_POOL_SMALL_MAX (8192); use fa::pool_resource");

      public:
	// opts: a template whose obj_size and align, when 0, are set from T.
	// Throws std::system_error (errno of fa_pool_create; EINVAL also for an
	// obj_size or align too small for T).
	explicit pool(const fa_pool_opts *opts = nullptr)
	{
		fa_pool_opts o{};

		if (opts)
			o = *opts;
		if (o.obj_size == 0)
			o.obj_size = size_;
		if (o.align == 0)
			o.align = align_;
		if (o.obj_size < sizeof(T) || o.align < alignof(T)) {
			errno = EINVAL;
			detail::throw_create("fa::pool<T>: obj_size or align below T's");
		}
		p_ = fa_pool_create(&o);
		if (!p_)
			detail::throw_create("fa_pool_create");
	}
	~pool()
	{
		fa_pool_destroy(p_);
	}
	pool(pool &&o) noexcept : p_(std::exchange(o.p_, nullptr))
	{
	}
	pool &operator=(pool &&o) noexcept
	{
		if (this != &o) {
			fa_pool_destroy(p_);
			p_ = std::exchange(o.p_, nullptr);
		}
		return *this;
	}
	pool(const pool &) = delete;
	pool &operator=(const pool &) = delete;

	fa_pool *get() const noexcept
	{
		return p_;
	}

	// Throws std::bad_alloc or what T's constructor throws (the slot is
	// given back first).
	template <class... Args> T *construct(Args &&...args)
	{
		void *mem = fa_pool_alloc(p_, sizeof(T));

		if (!mem)
			throw std::bad_alloc();
		try {
			return ::new (mem) T(std::forward<Args>(args)...);
		} catch (...) {
			fa_pool_free_sized(p_, mem, sizeof(T));
			throw;
		}
	}

	// ~T and the slot back; any thread.  NULL is a no-op.
	void destroy(T *obj) noexcept
	{
		if (!obj)
			return;
		obj->~T();
		fa_pool_free_sized(p_, obj, sizeof(T));
	}

      private:
	fa_pool *p_;
};

/* ---- std::pmr resources ---- */

// Over an arena: deallocate does nothing, reset() or the arena's end frees.
// Equal to another arena_resource over the same arena.
class arena_resource : public std::pmr::memory_resource
{
      public:
	explicit arena_resource(arena &a) noexcept : a_(a.get())
	{
	}
	explicit arena_resource(fa_arena *a) noexcept : a_(a)
	{
	}
	fa_arena *get() const noexcept
	{
		return a_;
	}

      protected:
	void *do_allocate(std::size_t bytes, std::size_t align) override
	{
		// A container's alignments are 16 or less: the bump with the
		// constant alignment, no rounding of the cursor.  Others (and
		// an align that is no power of two, refused) the general one.
		bool small = align && align <= FA_ARENA_MIN_ALIGN && !(align & (align - 1));
		void *p = small ? fa_arena_alloc(a_, bytes ? bytes : 1)
		                : fa_arena_alloc_aligned(a_, bytes ? bytes : 1, align);

		if (!p)
			throw std::bad_alloc();
		return p;
	}
	void do_deallocate(void *, std::size_t, std::size_t) override
	{
	}
	bool do_is_equal(const std::pmr::memory_resource &o) const noexcept override
	{
		auto *r = dynamic_cast<const arena_resource *>(&o);

		return r && r->a_ == a_;
	}

      private:
	fa_arena *a_;
};

// Over a size-class pool: its own (opts, a template with obj_size 0) or
// one it does not own.  Thread-safe.  Alignments above the pool's
// (16 by default) take bytes + align from the pool.  Equal to another
// pool_resource over the same pool with the same base alignment.
class pool_resource : public std::pmr::memory_resource
{
      public:
	// Throws std::system_error (errno of fa_pool_create).
	explicit pool_resource(const fa_pool_opts *opts = nullptr)
	    : p_(fa_pool_create(opts)), base_(pool_base_align(opts)), owned_(true)
	{
		if (!p_)
			detail::throw_create("fa_pool_create");
	}
	// Not owned: p must outlive the resource; base: the alignment p gives.
	explicit pool_resource(fa_pool *p, std::size_t base_align = FA_ARENA_MIN_ALIGN) noexcept
	    : p_(p), base_(base_align), owned_(false)
	{
	}
	~pool_resource() override
	{
		if (owned_)
			fa_pool_destroy(p_);
	}
	pool_resource(const pool_resource &) = delete;
	pool_resource &operator=(const pool_resource &) = delete;

	fa_pool *get() const noexcept
	{
		return p_;
	}
	std::size_t base_align() const noexcept
	{
		return base_;
	}

      protected:
	void *do_allocate(std::size_t bytes, std::size_t align) override
	{
		return detail::pool_alloc(p_, base_, bytes, align);
	}
	void do_deallocate(void *p, std::size_t bytes, std::size_t align) override
	{
		detail::pool_free(p_, base_, p, bytes, align);
	}
	bool do_is_equal(const std::pmr::memory_resource &o) const noexcept override
	{
		auto *r = dynamic_cast<const pool_resource *>(&o);

		return r && r->p_ == p_ && r->base_ == base_;
	}

      private:
	fa_pool *p_;
	std::size_t base_;
	bool owned_;
};

// Over fa_numa: memory of the calling thread's node (or of node), freed
// from any thread.  Its own fa_numa (opts) or one it does not own.
// Equal to another numa_resource over the same fa_numa and base alignment.
class numa_resource : public std::pmr::memory_resource
{
      public:
	// Throws std::system_error (errno of fa_numa_create).
	explicit numa_resource(const fa_numa_opts *opts = nullptr, int node = FA_NODE_ANY)
	    : n_(fa_numa_create(opts)), node_(node),
	      base_(pool_base_align(opts ? opts->pool : nullptr)), owned_(true)
	{
		if (!n_)
			detail::throw_create("fa_numa_create");
	}
	explicit numa_resource(fa_numa *n, int node = FA_NODE_ANY,
	                       std::size_t base_align = FA_ARENA_MIN_ALIGN) noexcept
	    : n_(n), node_(node), base_(base_align), owned_(false)
	{
	}
	~numa_resource() override
	{
		if (owned_)
			fa_numa_destroy(n_);
	}
	numa_resource(const numa_resource &) = delete;
	numa_resource &operator=(const numa_resource &) = delete;

	fa_numa *get() const noexcept
	{
		return n_;
	}
	int node() const noexcept
	{
		return node_;
	}

      protected:
	void *do_allocate(std::size_t bytes, std::size_t align) override
	{
		bool over = detail::overaligned(detail::checked_align(align), base_);
		std::size_t n = over ? detail::padded(bytes, align) : (bytes ? bytes : 1);
		void *p = node_ == FA_NODE_ANY ? fa_numa_alloc(n_, n)
		                               : fa_numa_alloc_onnode(n_, n, node_);

		if (!p)
			throw std::bad_alloc();
		return over ? detail::align_up_store(p, align) : p;
	}
	void do_deallocate(void *p, std::size_t, std::size_t align) override
	{
		fa_numa_free(n_, detail::overaligned(align, base_) ? detail::stored_raw(p) : p);
	}
	bool do_is_equal(const std::pmr::memory_resource &o) const noexcept override
	{
		auto *r = dynamic_cast<const numa_resource *>(&o);

		return r && r->n_ == n_ && r->base_ == base_;
	}

      private:
	fa_numa *n_;
	int node_;
	std::size_t base_;
	bool owned_;
};

/* ---- STL allocator ---- */

// An allocator on a pool's inline path (no virtual call).  Copies, rebinds
// and containers' copies share the pool; equal when the pool is.  It
// propagates on copy and move assignment and swap, so a container's
// memory always goes back to the pool it came from.
template <class T> class pool_allocator
{
      public:
	using value_type = T;
	using size_type = std::size_t;
	using difference_type = std::ptrdiff_t;
	using propagate_on_container_copy_assignment = std::true_type;
	using propagate_on_container_move_assignment = std::true_type;
	using propagate_on_container_swap = std::true_type;
	using is_always_equal = std::false_type;
	template <class U> struct rebind {
		using other = pool_allocator<U>;
	};

	explicit pool_allocator(const pool_resource &r) noexcept
	    : p_(r.get()), base_(r.base_align())
	{
	}
	explicit pool_allocator(fa_pool *p, std::size_t base_align = FA_ARENA_MIN_ALIGN) noexcept
	    : p_(p), base_(base_align)
	{
	}
	template <class U>
	pool_allocator(const pool_allocator<U> &o) noexcept : p_(o.pool()), base_(o.base_align())
	{
	}

	T *allocate(std::size_t n)
	{
		if (n > std::numeric_limits<std::size_t>::max() / sizeof(T))
			throw std::bad_array_new_length();
		if constexpr (alignof(T) <= detail::pool_min_align)
			return static_cast<T *>(detail::pool_alloc_small(p_, n * sizeof(T)));
		else
			return static_cast<T *>(
			        detail::pool_alloc(p_, base_, n * sizeof(T), alignof(T)));
	}
	void deallocate(T *p, std::size_t n) noexcept
	{
		if constexpr (alignof(T) <= detail::pool_min_align)
			detail::pool_free_small(p_, p, n * sizeof(T));
		else
			detail::pool_free(p_, base_, p, n * sizeof(T), alignof(T));
	}

	fa_pool *pool() const noexcept
	{
		return p_;
	}
	std::size_t base_align() const noexcept
	{
		return base_;
	}

	template <class U> bool operator==(const pool_allocator<U> &o) const noexcept
	{
		return p_ == o.pool() && base_ == o.base_align();
	}
	template <class U> bool operator!=(const pool_allocator<U> &o) const noexcept
	{
		return !(*this == o);
	}

      private:
	fa_pool *p_;
	std::size_t base_;
};

} // namespace fa

#endif /* FINALLOC_HPP */

// SPDX-License-Identifier: MIT
/*
 * What a user of the installed tree builds: scripts/check-install.sh (make
 * install into a DESTDIR) and scripts/check-deb.sh (the packages) compile it
 * with only the installed headers and libraries and check what it prints.
 */
#include <finalloc.h>
#include <linux/finalloc.h>
#include <stdio.h>

int main(void)
{
	struct fa_arena *a = fa_arena_create(NULL);
	struct fa_pool *p = fa_pool_create(NULL);
	char *s = a ? fa_arena_alloc(a, 32) : NULL;
	void *o = p ? fa_pool_alloc(p, 64) : NULL;

	if (!s || !o)
		return perror("finalloc"), 1;
	snprintf(s, 32, "%s", FINALLOC_DEV_PATH);
	fa_pool_free(p, o);
	printf("finalloc %s abi %d %s\n", fa_version(), FINALLOC_ABI_VERSION, s);
	fa_pool_destroy(p);
	fa_arena_destroy(a);
	return 0;
}

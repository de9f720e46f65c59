// SPDX-License-Identifier: MIT
// The C++ side of app.c: <finalloc.hpp> from the installed tree.
#include <finalloc.hpp>
#include <linux/finalloc.h>
#include <cstdio>

int main()
{
	fa::arena a;
	int *x = static_cast<int *>(a.allocate(sizeof(int)));

	*x = FINALLOC_ABI_VERSION;
	std::printf("finalloc %s abi %d %s\n", fa_version(), *x, FINALLOC_DEV_PATH);
	return 0;
}

// SPDX-License-Identifier: MIT
#include "finalloc.h"
#include "util.h"

#define FA_STR2(x) #x
#define FA_STR(x)  FA_STR2(x)

const char *fa_version(void)
{
	return FA_STR(FA_VERSION_MAJOR) "." FA_STR(FA_VERSION_MINOR) "." FA_STR(FA_VERSION_PATCH);
}

/* SPDX-License-Identifier: MIT */
/* The C++ tests as the C driver sees them. */
#ifndef FA_CXX_DRIVER_H
#define FA_CXX_DRIVER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

size_t fa_cxx_count(void);
const char *fa_cxx_name(size_t i);
/* Run the test named name: the number of failed checks (an exception
 * escaping the test counts as one); each is said on stderr. */
int fa_cxx_run(const char *name);

#ifdef __cplusplus
}
#endif

#endif

// SPDX-License-Identifier: MIT
/*
 * Runs the C++ tests of tests/host/cxx.cpp under the kselftest harness:
 * the harness header is C only (designated initialisers C++ refuses,
 * void * conversions, typeof comparisons with NULL), so the tests register
 * here, one harness test per C++ test, each in its own child as usual.
 */
#include "kselftest_harness.h"
#include "driver.h"

static void run_one(struct __test_metadata *_metadata, struct __fixture_variant_metadata *variant)
{
	_metadata->setup_completed = true;
	EXPECT_EQ(0, fa_cxx_run(_metadata->name));
}

int main(int argc, char **argv)
{
	size_t n = fa_cxx_count();
	struct __test_metadata *t = calloc(n, sizeof(*t));

	if (!t) {
		perror("calloc");
		return 1;
	}
	__constructor_order = _CONSTRUCTOR_ORDER_FORWARD;
	for (size_t i = 0; i < n; i++) {
		t[i].name = fa_cxx_name(i);
		t[i].fn = run_one;
		t[i].fixture = &_fixture_global;
		t[i].termsig = -1;
		t[i].timeout = TEST_TIMEOUT_DEFAULT;
		__register_test(&t[i]);
	}
	return test_harness_run(argc, argv);
}

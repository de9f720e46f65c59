/* SPDX-License-Identifier: MIT */
/*
 * A test that needs more than the harness's default 30 s: under the VM's
 * TCG some take that long.  The 6.1 harness has a timeout only for
 * fixture tests, so this declares an empty fixture and one test of it,
 * named fixture.name in the TAP output.  Include after the harness.
 */
#ifndef FA_TEST_SLOW_TEST_H
#define FA_TEST_SLOW_TEST_H

#define SLOW_TEST(fixture, name, seconds) \
	FIXTURE(fixture)                  \
	{                                 \
		int unused;               \
	};                                \
	FIXTURE_SETUP(fixture)            \
	{                                 \
		(void)self;               \
	}                                 \
	FIXTURE_TEARDOWN(fixture)         \
	{                                 \
		(void)self;               \
	}                                 \
	TEST_F_TIMEOUT(fixture, name, seconds)

#endif /* FA_TEST_SLOW_TEST_H */

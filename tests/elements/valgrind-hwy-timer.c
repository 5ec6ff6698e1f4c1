/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* valgrind-hwy-timer.c — preloaded into the valgrind runs of the element
 * tests. libavcodec pulls in libhwy (through libjxl), whose load-time
 * initialiser measures its timer with RDTSCP. valgrind 3.19 decodes RDTSCP
 * only when the CPU advertises it, which some virtual machines do not, so
 * the test died with SIGILL before it started. This stands in for that one
 * function; nothing in the tests reads libhwy's timer. */
#include <stdint.h>

uint64_t
udml_test_hwy_timer_resolution (void)
__asm__ ("_ZN3hwy8platform15TimerResolutionEv");

uint64_t
udml_test_hwy_timer_resolution (void)
{
  return 1;
}

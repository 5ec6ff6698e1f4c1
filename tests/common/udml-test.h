/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udml-test.h — what every test binary shares: checks that count and say
 * where they failed, closeness with an explicit tolerance (atol + rtol) that
 * prints the max difference and where, allocation that cannot return NULL,
 * and, on request, counting the allocations of a stretch of code.
 *
 * Plain C11, header only: each test is one translation unit. Include as
 * "../common/udml-test.h". Define UDML_TEST_COUNT_ALLOCS before including
 * it to replace malloc, calloc and realloc by counting wrappers. */
#ifndef UDML_TEST_H
#define UDML_TEST_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

static int test_checks, test_failures;

/* CHECK (cond, printf-format, ...): counts the check; on failure counts it
 * and prints the location and the message. The run goes on. */
#define CHECK(cond, ...) \
  do { \
    test_checks++; \
    if (!(cond)) { \
      test_failures++; \
      fprintf (stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf (stderr, __VA_ARGS__); \
      fputc ('\n', stderr); \
    } \
  } while (0)

/* An unconditional failure, for paths a check cannot go on from. */
#define TEST_FAIL(...) CHECK (0, __VA_ARGS__)

/* Prints the tally; the process exit status carries the verdict. */
static inline int
test_summary (const char *prog)
{
  printf ("%s: %d checks, %d failed\n", prog, test_checks, test_failures);
  return test_failures ? 1 : 0;
}

/* ------------------------------------------------------------ closeness */

typedef double (*TestGetFunc) (const void *p, size_t i);

static inline double
test_get_f (const void *p, size_t i)
{
  return ((const float *) p)[i];
}

static inline double
test_get_d (const void *p, size_t i)
{
  return ((const double *) p)[i];
}

#define TEST_GETTER(p) _Generic ((p), \
    float *: test_get_f, const float *: test_get_f, \
    double *: test_get_d, const double *: test_get_d)

/* |got[i] - want[i]| <= atol + rtol |want[i]| for every i (NaN fails). On
 * failure prints the max difference and its index, and the element that
 * exceeds its tolerance most. Returns 1 when close. */
static inline int
test_close (const char *what, const void *got, TestGetFunc gg,
    const void *want, TestGetFunc gw, size_t n, double atol, double rtol)
{
  double maxd = 0.0, worst = 0.0;
  size_t maxi = 0, wi = 0;
  int bad = 0;

  test_checks++;
  for (size_t i = 0; i < n; i++) {
    double g = gg (got, i), w = gw (want, i);
    double d = fabs (g - w);
    double excess = d - (atol + rtol * fabs (w));

    if (!(excess <= 0.0)) {
      if (!bad || !(excess <= worst)) {
        worst = excess;
        wi = i;
      }
      bad = 1;
    }
    if (!(d <= maxd)) {
      maxd = d;
      maxi = i;
    }
  }
  if (bad) {
    test_failures++;
    fprintf (stderr, "FAIL %s: max |diff| %.3g at index %zu (n=%zu); worst "
        "against atol %.3g + rtol %.3g at index %zu: got %.9g want %.9g\n",
        what, maxd, maxi, n, atol, rtol, wi, gg (got, wi), gw (want, wi));
    return 0;
  }
  printf ("ok   %s (n=%zu, max |diff| %.3g at index %zu)\n", what, n, maxd,
      maxi);
  return 1;
}

/* check_close (what, got, want, n, atol, rtol): got and want are float or
 * double arrays of n values. */
#define check_close(what, got, want, n, atol, rtol) \
  test_close ((what), (got), TEST_GETTER (got), (want), TEST_GETTER (want), \
      (n), (atol), (rtol))

static inline int
check_scalar (const char *what, double got, double want, double atol,
    double rtol)
{
  return check_close (what, &got, &want, 1, atol, rtol);
}

/* ----------------------------------------------------------- allocation */

static inline void *
xmalloc (size_t n)
{
  void *p = malloc (n ? n : 1);

  if (!p) {
    fprintf (stderr, "out of memory (%zu bytes)\n", n);
    exit (1);
  }
  return p;
}

static inline void *
xcalloc (size_t n, size_t size)
{
  void *p = calloc (n ? n : 1, size ? size : 1);

  if (!p) {
    fprintf (stderr, "out of memory (%zu x %zu bytes)\n", n, size);
    exit (1);
  }
  return p;
}

#ifdef UDML_TEST_COUNT_ALLOCS
/* malloc, calloc and realloc of this thread are counted into
 * test_alloc_count while test_alloc_counting is set; the test binary's
 * definitions take precedence over glibc's. Valgrind replaces them too, so
 * counting tests are left out of valgrind runs. */
extern void *__libc_malloc (size_t n);
extern void *__libc_calloc (size_t n, size_t size);
extern void *__libc_realloc (void *p, size_t n);
static __thread int test_alloc_counting;
static __thread unsigned test_alloc_count;

void *
malloc (size_t n)
{
  test_alloc_count += test_alloc_counting;
  return __libc_malloc (n);
}

void *
calloc (size_t n, size_t size)
{
  test_alloc_count += test_alloc_counting;
  return __libc_calloc (n, size);
}

void *
realloc (void *p, size_t n)
{
  test_alloc_count += test_alloc_counting;
  return __libc_realloc (p, n);
}
#endif /* UDML_TEST_COUNT_ALLOCS */

#endif /* UDML_TEST_H */

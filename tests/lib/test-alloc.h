/* test-alloc.h — allocation for the core's tests: failure ends the run with
 * a failing status, so no test goes on with a NULL buffer. */
#ifndef UDML_TEST_ALLOC_H
#define UDML_TEST_ALLOC_H

#include <stdio.h>
#include <stdlib.h>

static inline void *
xmalloc (size_t n)
{
  void *p = malloc (n ? n : 1);

  if (!p) {
    fprintf (stderr, "%s: out of memory (%zu bytes)\n", __FILE__, n);
    exit (1);
  }
  return p;
}

static inline void *
xcalloc (size_t n, size_t size)
{
  void *p = calloc (n ? n : 1, size ? size : 1);

  if (!p) {
    fprintf (stderr, "%s: out of memory (%zu x %zu bytes)\n", __FILE__, n,
        size);
    exit (1);
  }
  return p;
}

#endif /* UDML_TEST_ALLOC_H */

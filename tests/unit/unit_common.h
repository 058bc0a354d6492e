/* Shared by the CMocka unit tests (include after <cmocka.h>). */
#ifndef W2S_UNIT_COMMON_H
#define W2S_UNIT_COMMON_H

#include <stdlib.h>

/* Fails (with both numbers printed) unless val <= bound; NaN fails. */
#define ASSERT_LE(val, bound)                                                  \
  do {                                                                         \
    double v_ = (val), b_ = (bound);                                           \
    if (!(v_ <= b_)) {                                                         \
      print_error("%s = %.17g, expected <= %s = %.17g\n", #val, v_, #bound,    \
                  b_);                                                         \
      fail();                                                                  \
    }                                                                          \
  } while (0)

/* n zeroed doubles (at least one), or the test fails. */
static inline double *xmalloc(size_t n) {
  double *p = calloc(n ? n : 1, sizeof(double));
  assert_non_null(p);
  return p;
}

#endif

// KUMO_CHECK: for what "should never happen". A failed check is a bug: it logs where and
// aborts, rather than half-handling an impossible state.
#pragma once

#include <cstdio>
#include <cstdlib>

#define KUMO_CHECK(cond)                                                             \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "KUMO_CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

/* check.h - tiny assertions for the api_ tests: CHECK(cond) and
 * CHECK_OK(call) report the failing line (and the library's last error) and
 * exit 1. */
#ifndef MSRP_TESTS_CHECK_H
#define MSRP_TESTS_CHECK_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "msrp.h"

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define CHECK_RESULT(call, expected)                                                                \
    do {                                                                                            \
        msrp_result_t r_ = (call);                                                                  \
        if (r_ != (expected)) {                                                                     \
            char e_[512];                                                                           \
            msrp_last_error(e_, sizeof e_);                                                         \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n", __FILE__,     \
                    __LINE__, #call, msrp_result_str(r_), msrp_result_str(expected), e_);           \
            exit(1);                                                                                \
        }                                                                                           \
    } while (0)

#define CHECK_OK(call) CHECK_RESULT(call, MSRP_RESULT_OK)

/* WAIT_UNTIL(cond, condvar, mutex): with `mutex` held, waits on `condvar`
 * until `cond` holds. Fails, naming the condition, after 30 s (valgrind
 * included) instead of hanging until ctest's timeout. A test using it
 * defines _POSIX_C_SOURCE 200809L before its first #include
 * (clock_gettime). */
#define WAIT_UNTIL(cond, condvar, mutex)                                                       \
    do {                                                                                       \
        struct timespec until_;                                                                \
        clock_gettime(CLOCK_REALTIME, &until_);                                                \
        until_.tv_sec += 30;                                                                   \
        while (!(cond)) {                                                                      \
            if (pthread_cond_timedwait((condvar), (mutex), &until_) == ETIMEDOUT && !(cond)) { \
                fprintf(stderr, "%s:%d: not true within 30 s: %s\n", __FILE__, __LINE__, #cond); \
                exit(1);                                                                       \
            }                                                                                  \
        }                                                                                      \
    } while (0)

#endif

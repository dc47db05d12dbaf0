/* api_version: msrp_version() returns the library's version string.
 *
 * Built twice, against the shared and the static library (the tests
 * build_shared_link and build_static_link). The expected version comes from
 * Cargo.toml through the MSRP_EXPECTED_VERSION compile definition.
 */
#include <stdio.h>
#include <string.h>

#include "msrp.h"

#ifndef MSRP_EXPECTED_VERSION
#error "MSRP_EXPECTED_VERSION must be defined"
#endif

int main(void) {
    const char *v = msrp_version();
    if (v == NULL) {
        fprintf(stderr, "FAIL: msrp_version() returned NULL\n");
        return 1;
    }
    if (strcmp(v, MSRP_EXPECTED_VERSION) != 0) {
        fprintf(stderr, "FAIL: msrp_version() = \"%s\", expected \"%s\"\n", v,
                MSRP_EXPECTED_VERSION);
        return 1;
    }
    /* The same static string on every call. */
    if (msrp_version() != v) {
        fprintf(stderr, "FAIL: msrp_version() returned two different pointers\n");
        return 1;
    }
    printf("msrp_version() = %s\n", v);
    return 0;
}

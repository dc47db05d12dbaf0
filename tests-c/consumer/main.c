/* Consumer of an installed libmsrp: prints msrp_version() and, given an
 * expected version as argv[1], fails unless they are equal. */
#include <stdio.h>
#include <string.h>

#include <msrp.h>

int main(int argc, char **argv) {
    const char *v = msrp_version();
    if (v == NULL) {
        fprintf(stderr, "FAIL: msrp_version() returned NULL\n");
        return 1;
    }
    printf("%s\n", v);
    if (argc > 1 && strcmp(v, argv[1]) != 0) {
        fprintf(stderr, "FAIL: msrp_version() = \"%s\", expected \"%s\"\n", v, argv[1]);
        return 1;
    }
    return 0;
}

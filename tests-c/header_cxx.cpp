// build_header_cxx: msrp.h compiles as C++ (extern "C" guards, no C-only
// constructs) and its functions link from C++.
#include "msrp.h"

#include <cstdio>
#include <cstring>

int main() {
    const char *v = msrp_version();
    if (v == nullptr || std::strcmp(v, MSRP_EXPECTED_VERSION) != 0) {
        std::fprintf(stderr, "FAIL: msrp_version() from C++ = %s\n", v ? v : "(null)");
        return 1;
    }
    return 0;
}

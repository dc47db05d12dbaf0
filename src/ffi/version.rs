//! Library version.

use core::ffi::c_char;

/// The crate version followed by a NUL byte, for C.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// Returns the version of libmsrp as a NUL-terminated string, e.g. `"0.1.0"`.
///
/// The string is static: it stays valid for the life of the process and must
/// not be freed. Safe to call from any thread, at any time.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::ffi::CStr;

    #[test]
    fn version_is_the_crate_version() {
        // SAFETY: msrp_version returns a pointer to a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(msrp_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}

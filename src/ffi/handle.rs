//! Opaque handles and pointer arguments.
//!
//! A C handle type (`msrp_uri_t`) is a zero-sized Rust struct that is never
//! constructed; [`Castable`] says which Rust value a pointer to it really
//! points at, and whether C owns it as a `Box` (single owner, `*_new`/`*_free`)
//! or as an `Arc` (shared, immutable, `*_clone`/`*_free`). The functions here
//! are the only place where a `Box`, an `Arc` or a `CString` becomes a raw
//! pointer and where one becomes a Rust value again. Every pointer that comes
//! from C is NULL-checked here too.

use std::ffi::{c_char, CStr, CString};
use std::marker::PhantomData;
use std::sync::Arc;

use super::result::{
    fail, Error, Result, MSRP_RESULT_INVALID_ARGUMENT, MSRP_RESULT_INVALID_UTF8,
    MSRP_RESULT_NOT_FOUND, MSRP_RESULT_NULL_POINTER,
};

/// Handles owned as a `Box`: one owner, freed once.
pub(crate) struct OwnershipBox;
/// Handles owned as an `Arc`: cloned and freed any number of times.
pub(crate) struct OwnershipArc;

/// Maps a C handle type to the Rust value behind it.
pub(crate) trait Castable {
    type Ownership;
    type RustType;
}

/// Gives C ownership of `value`: the pointer must come back through
/// [`box_from_ptr`] exactly once.
pub(crate) fn box_into_ptr<C: Castable<Ownership = OwnershipBox>>(value: C::RustType) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Takes ownership back from C; `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or came from [`box_into_ptr`] for the same `C` and was not
/// taken back before.
pub(crate) unsafe fn box_from_ptr<C: Castable<Ownership = OwnershipBox>>(
    ptr: *mut C,
) -> Option<Box<C::RustType>> {
    // SAFETY: per the contract above.
    (!ptr.is_null()).then(|| unsafe { Box::from_raw(ptr.cast::<C::RustType>()) })
}

/// Gives C one reference to `value`.
pub(crate) fn arc_into_ptr<C: Castable<Ownership = OwnershipArc>>(
    value: Arc<C::RustType>,
) -> *mut C {
    Arc::into_raw(value).cast_mut().cast()
}

/// Takes one reference back from C; `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or came from [`arc_into_ptr`] for the same `C`, and this
/// reference was not taken back before.
pub(crate) unsafe fn arc_from_ptr<C: Castable<Ownership = OwnershipArc>>(
    ptr: *const C,
) -> Option<Arc<C::RustType>> {
    // SAFETY: per the contract above.
    (!ptr.is_null()).then(|| unsafe { Arc::from_raw(ptr.cast::<C::RustType>()) })
}

/// A new reference to the value behind a C reference, which C keeps.
pub(crate) fn arc_clone_from_ptr<C: Castable<Ownership = OwnershipArc>>(
    ptr: *const C,
) -> Result<Arc<C::RustType>> {
    if ptr.is_null() {
        return null_pointer();
    }
    // SAFETY: a non-NULL pointer of this type came from arc_into_ptr (the
    // documented contract of every function taking it) and is still owned by
    // the caller, so the count is at least 1 while we add one.
    unsafe {
        Arc::increment_strong_count(ptr.cast::<C::RustType>());
        Ok(Arc::from_raw(ptr.cast::<C::RustType>()))
    }
}

/// Borrows the value behind a handle for the duration of the call.
pub(crate) fn try_ref<'a, C: Castable>(ptr: *const C) -> Result<&'a C::RustType> {
    // SAFETY: a non-NULL handle pointer points at a live value of this type
    // (the documented contract of every function taking it).
    unsafe { ptr.cast::<C::RustType>().as_ref() }.ok_or_else(null_pointer_error)
}

/// Borrows a single-owner handle mutably for the duration of the call.
pub(crate) fn try_mut<'a, C: Castable<Ownership = OwnershipBox>>(
    ptr: *mut C,
) -> Result<&'a mut C::RustType> {
    // SAFETY: as for try_ref; a Box handle is used by one thread at a time
    // (documented per type), so the borrow is unique.
    unsafe { ptr.cast::<C::RustType>().as_mut() }.ok_or_else(null_pointer_error)
}

fn null_pointer_error() -> Error {
    Error::new(
        MSRP_RESULT_NULL_POINTER,
        "a required pointer argument is NULL",
    )
}

pub(crate) fn null_pointer<T>() -> Result<T> {
    Err(null_pointer_error())
}

/// An output parameter: checked for NULL before any work is done, written
/// only on success.
pub(crate) struct Out<'a, T> {
    ptr: *mut T,
    _life: PhantomData<&'a mut T>,
}

impl<T> Out<'_, T> {
    pub fn write(self, value: T) {
        // SAFETY: checked non-NULL in `out`; the caller promises it is
        // writable. `write` does not drop the old (uninitialised) value.
        unsafe { self.ptr.write(value) }
    }
}

/// Checks an output parameter.
pub(crate) fn out<'a, T>(ptr: *mut T, name: &str) -> Result<Out<'a, T>> {
    if ptr.is_null() {
        return fail(MSRP_RESULT_NULL_POINTER, format!("{name} is NULL"));
    }
    Ok(Out {
        ptr,
        _life: PhantomData,
    })
}

/// An optional output parameter: NULL means the caller does not want it.
pub(crate) fn out_opt<'a, T>(ptr: *mut T) -> Option<Out<'a, T>> {
    (!ptr.is_null()).then_some(Out {
        ptr,
        _life: PhantomData,
    })
}

/// A required NUL-terminated UTF-8 string argument.
pub(crate) fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    match opt_str_arg(ptr, name)? {
        Some(s) => Ok(s),
        None => fail(MSRP_RESULT_NULL_POINTER, format!("{name} is NULL")),
    }
}

/// An optional NUL-terminated UTF-8 string argument (NULL gives `None`).
pub(crate) fn opt_str_arg<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL; the caller promises a NUL-terminated string that
    // outlives the call.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str().map(Some).map_err(|_| {
        Error::new(
            MSRP_RESULT_INVALID_UTF8,
            format!("{name} is not valid UTF-8"),
        )
    })
}

/// A buffer argument: `len` bytes at `ptr` (NULL allowed when `len` is 0).
pub(crate) fn slice_arg<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return fail(
            MSRP_RESULT_NULL_POINTER,
            format!("{name} is NULL but its length is {len}"),
        );
    }
    // SAFETY: non-NULL; the caller promises `len` readable bytes for the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An array argument: `len` items at `ptr` (NULL allowed when `len` is 0).
pub(crate) fn array_arg<'a, T>(ptr: *const T, len: usize, name: &str) -> Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return fail(
            MSRP_RESULT_NULL_POINTER,
            format!("{name} is NULL but its count is {len}"),
        );
    }
    // SAFETY: non-NULL; the caller promises `len` initialised items.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Writes `value` to `*out_text` as a string C frees with
/// `msrp_string_free`, or fails with `MSRP_RESULT_NOT_FOUND` naming `what`
/// when there is none (the accessors of optional fields).
pub(crate) fn found(value: Option<&str>, what: &str, out_text: *mut *mut c_char) -> Result<()> {
    let out_text = out(out_text, "out")?;
    match value {
        Some(v) => {
            out_text.write(string_into_ptr(v)?);
            Ok(())
        }
        None => fail(MSRP_RESULT_NOT_FOUND, format!("no {what}")),
    }
}

/// Writes a header's `name` and `value` to the optional out-parameters
/// (each a string C frees with `msrp_string_free`; NULL skips it). Neither
/// is written when either cannot be returned as a C string.
pub(crate) fn name_value_out(
    name_out: *mut *mut c_char,
    value_out: *mut *mut c_char,
    name: &str,
    value: impl Into<Vec<u8>>,
) -> Result<()> {
    let n = string_into_ptr(name)?;
    let v = match string_into_ptr(value) {
        Ok(v) => v,
        Err(e) => {
            msrp_string_free(n);
            return Err(e);
        }
    };
    match out_opt(name_out) {
        Some(o) => o.write(n),
        None => msrp_string_free(n),
    }
    match out_opt(value_out) {
        Some(o) => o.write(v),
        None => msrp_string_free(v),
    }
    Ok(())
}

/// A string for C that C must free with `msrp_string_free`.
pub(crate) fn string_into_ptr(text: impl Into<Vec<u8>>) -> Result<*mut c_char> {
    CString::new(text).map(CString::into_raw).map_err(|_| {
        Error::new(
            MSRP_RESULT_INVALID_ARGUMENT,
            "the text contains a NUL byte and cannot be returned as a C string",
        )
    })
}

/// A NUL-terminated copy for passing to a callback (borrowed by C for the
/// call). Interior NULs, which cannot occur in MSRP tokens, are dropped.
pub(crate) fn c_string(text: &str) -> CString {
    CString::new(text).unwrap_or_else(|e| {
        let mut bytes = e.into_vec();
        bytes.retain(|&b| b != 0);
        CString::new(bytes).unwrap_or_default()
    })
}

/// Frees a string returned by libmsrp (through a `char **` out-parameter).
///
/// NULL is a no-op. Each string is freed once, with this function only (not
/// `free()`). Callable from any thread, including inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_string_free(s: *mut c_char) {
    ffi_boundary! {
        if !s.is_null() {
            // SAFETY: strings given to C come only from string_into_ptr
            // (CString::into_raw); the caller frees each once.
            drop(unsafe { CString::from_raw(s) });
        }
    }
}

//! TLS helpers: self-signed certificates and SHA-256 fingerprints for SDP
//! `a=fingerprint` (RFC 4572 / 8122).

use std::ffi::c_char;
use std::io::Write;
use std::path::Path;

use super::handle::{array_arg, opt_str_arg, out, out_opt, str_arg, string_into_ptr};
use super::result::{msrp_result_t, Error, Result, MSRP_RESULT_IO, MSRP_RESULT_TLS};
use crate::transport::tls::Fingerprint;
use crate::transport::TlsIdentity;

/// Parses an optional fingerprint argument.
pub(crate) fn fingerprint_arg(text: *const c_char) -> Result<Option<Fingerprint>> {
    opt_str_arg(text, "fingerprint")?
        .map(|t| Fingerprint::parse(t).map_err(Error::from))
        .transpose()
}

fn write_file(path: &Path, contents: &str, private: bool) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = options.open(path).map_err(|e| {
        Error::new(
            MSRP_RESULT_IO,
            format!("cannot write {}: {e}", path.display()),
        )
    })?;
    f.write_all(contents.as_bytes()).map_err(|e| {
        Error::new(
            MSRP_RESULT_IO,
            format!("cannot write {}: {e}", path.display()),
        )
    })
}

/// Generates a self-signed ECDSA P-256 certificate and key and writes them as
/// PEM to `cert_file` and `key_file` (the key file is created with mode 0600).
///
/// `names` (`n_names` NUL-terminated strings; may be NULL with 0) are the DNS
/// names or IP addresses the certificate is for; the first is also its common
/// name. When `fingerprint` is not NULL, the certificate's SHA-256 fingerprint
/// (`AB:CD:...`) is written to it (free with `msrp_string_free`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_tls_self_signed(
    names: *const *const c_char,
    n_names: usize,
    cert_file: *const c_char,
    key_file: *const c_char,
    fingerprint: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let cert_file = Path::new(str_arg(cert_file, "cert_file")?);
        let key_file = Path::new(str_arg(key_file, "key_file")?);
        let names = array_arg(names, n_names, "names")?.iter().map(|&n| str_arg(n, "name")).collect::<Result<Vec<&str>>>()?;
        let generated = TlsIdentity::self_signed(&names)?;
        let fp = string_into_ptr(generated.identity.fingerprint().to_string())?;
        let written = write_file(cert_file, &generated.cert_pem, false).and_then(|()| write_file(key_file, &generated.key_pem, true));
        match (written, out_opt(fingerprint)) {
            (Err(e), _) => {
                super::handle::msrp_string_free(fp);
                Err(e)
            }
            (Ok(()), Some(o)) => {
                o.write(fp);
                Ok(())
            }
            (Ok(()), None) => {
                super::handle::msrp_string_free(fp);
                Ok(())
            }
        }
    }
}

/// Writes the SHA-256 fingerprint (`AB:CD:...`) of the first certificate in
/// the PEM file `cert_file` to `*out` (free with `msrp_string_free`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_tls_fingerprint_of_cert_file(
    cert_file: *const c_char,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        use rustls_pki_types::pem::PemObject;
        let out_text = out(out_text, "out")?;
        let path = str_arg(cert_file, "cert_file")?;
        let der = rustls_pki_types::CertificateDer::from_pem_file(path)
            .map_err(|e| Error::new(MSRP_RESULT_TLS, format!("{path}: no usable CERTIFICATE section: {e}")))?;
        out_text.write(string_into_ptr(Fingerprint::of_certificate(&der).to_string())?);
        Ok(())
    }
}

/// Checks a fingerprint as given in SDP or on a command line (32
/// colon-separated hex pairs, any case, optionally preceded by `sha-256 `)
/// and writes its canonical form (`AB:CD:...`) to `*out` (free with
/// `msrp_string_free`). `MSRP_RESULT_PARSE`, with the reason, otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_tls_fingerprint_parse(
    text: *const c_char,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_text = out(out_text, "out")?;
        let fp = Fingerprint::parse(str_arg(text, "text")?)?;
        out_text.write(string_into_ptr(fp.to_string())?);
        Ok(())
    }
}

//! Random identifiers from the operating system's random source: transaction
//! ids and message ids (RFC 4975 `ident`), and session ids for local URIs.
//! Each carries at least 64 bits of entropy so ids cannot be guessed.

const ALPHABET: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `len` characters from [A-Za-z0-9], each uniformly chosen (rejection sampling).
pub fn random_alphanumeric(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::getrandom(&mut buf).expect("the operating system's random source failed");
        for &b in &buf {
            // 248 = 4 * 62: values above are rejected to keep the choice uniform.
            if b < 248 {
                out.push(ALPHABET[(b % 62) as usize] as char);
                if out.len() == len {
                    break;
                }
            }
        }
    }
    out
}

/// A transaction id: 16 alphanumerics (about 95 bits).
pub fn transaction_id() -> String {
    random_alphanumeric(16)
}

/// A message id: 20 alphanumerics (about 119 bits).
pub fn message_id() -> String {
    random_alphanumeric(20)
}

/// A session id for a local URI: 20 alphanumerics.
pub fn session_id() -> String {
    random_alphanumeric(20)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::headers::is_ident;

    #[test]
    fn ids_are_idents_and_differ() {
        let a = transaction_id();
        let b = transaction_id();
        assert!(is_ident(&a) && is_ident(&b));
        assert_ne!(a, b);
        assert!(is_ident(&message_id()));
        assert_eq!(session_id().len(), 20);
    }
}

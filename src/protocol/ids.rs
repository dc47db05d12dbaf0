//! Random identifiers from the operating system's random source: transaction
//! ids and message ids (RFC 4975 `ident`), and session ids for local URIs.
//! Each carries at least 64 bits of entropy so ids cannot be guessed.
//!
//! The random octets are drawn from the operating system in blocks of 4 KiB
//! per thread (one system call per about 250 ids instead of one per id: a
//! file sent in 8 KiB chunks needs a transaction id for every chunk).
//! Octets are used once and never shared between threads.

use std::cell::RefCell;

/// Random octets fetched from the operating system at once, per thread.
const POOL: usize = 4096;

struct Pool {
    octets: Box<[u8; POOL]>,
    used: usize,
}

thread_local! {
    static RANDOM: RefCell<Pool> = RefCell::new(Pool { octets: Box::new([0; POOL]), used: POOL });
}

/// Fills `out` with random octets from this thread's pool.
fn random_octets(out: &mut [u8]) {
    RANDOM.with(|pool| {
        let mut pool = pool.borrow_mut();
        let mut filled = 0;
        while filled < out.len() {
            if pool.used == POOL {
                getrandom::getrandom(&mut pool.octets[..])
                    .expect("the operating system's random source failed");
                pool.used = 0;
            }
            let take = (out.len() - filled).min(POOL - pool.used);
            let start = pool.used;
            out[filled..filled + take].copy_from_slice(&pool.octets[start..start + take]);
            // Used octets are wiped so nothing later can read them again.
            pool.octets[start..start + take].fill(0);
            pool.used += take;
            filled += take;
        }
    });
}

const ALPHABET: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `len` characters from [A-Za-z0-9], each uniformly chosen (rejection sampling).
pub fn random_alphanumeric(len: usize) -> String {
    let mut out = vec![0; len];
    fill_alphanumeric(&mut out);
    String::from_utf8(out).expect("the alphabet is ASCII")
}

/// Fills `out` with characters from [A-Za-z0-9], each uniformly chosen
/// (rejection sampling), without allocating.
pub(crate) fn fill_alphanumeric(out: &mut [u8]) {
    let mut filled = 0;
    let mut buf = [0u8; 64];
    while filled < out.len() {
        let want = ((out.len() - filled) * 5 / 4 + 4).min(buf.len());
        random_octets(&mut buf[..want]);
        for &b in &buf[..want] {
            // 248 = 4 * 62: values above are rejected to keep the choice uniform.
            if b < 248 {
                out[filled] = ALPHABET[(b % 62) as usize];
                filled += 1;
                if filled == out.len() {
                    break;
                }
            }
        }
    }
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

    /// Every alphanumeric comes up about as often as the others (32,000
    /// characters: about 516 each, standard deviation about 22), across
    /// several refills of the pool.
    #[test]
    fn characters_are_uniform() {
        let mut counts = [0u32; 128];
        for _ in 0..2000 {
            let id = transaction_id();
            assert_eq!(id.len(), 16);
            for b in id.bytes() {
                counts[usize::from(b)] += 1;
            }
        }
        for (b, &n) in counts.iter().enumerate() {
            if ALPHABET.contains(&(b as u8)) {
                assert!(
                    (350..700).contains(&n),
                    "{:?} came up {n} times",
                    b as u8 as char
                );
            } else {
                assert_eq!(n, 0, "{b} is not alphanumeric");
            }
        }
    }
}

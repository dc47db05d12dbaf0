//! [`Octets`]: the data of one [`super::SessionEvent::MessageData`] event,
//! one or more slices of what was received, in order, not copied into one
//! buffer. A fast file transfer brings many chunk payloads with one socket
//! read; joining them would copy every octet once more on its way to the
//! application.

use std::io::IoSlice;

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Consecutive octets of one message as one or more slices, in order
/// (`len()` octets in all). The slices are the payloads of the received
/// chunks, shared with the buffer they were read into (no copy).
///
/// Write them out slice by slice ([`Octets::slices`], or
/// [`Octets::io_slices`] for one vectored write), read them through
/// [`bytes::Buf`] (`Buf::reader()` is a `std::io::Read`), or take them as
/// one [`Bytes`] with [`Octets::to_bytes`] (which copies when there is
/// more than one slice).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Octets {
    /// Never holds an empty slice.
    slices: Vec<Bytes>,
    len: usize,
}

impl Octets {
    /// Octets made of `slices`, in order (empty ones are left out).
    pub fn from_slices(slices: Vec<Bytes>) -> Octets {
        let mut slices = slices;
        slices.retain(|s| !s.is_empty());
        let len = slices.iter().map(Bytes::len).sum();
        Octets { slices, len }
    }

    /// How many octets, all slices together.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slices, in order; none is empty.
    pub fn slices(&self) -> &[Bytes] {
        &self.slices
    }

    /// The slices as `IoSlice`s, for one vectored write.
    pub fn io_slices(&self) -> Vec<IoSlice<'_>> {
        self.slices.iter().map(|s| IoSlice::new(s)).collect()
    }

    /// All the octets as one `Bytes`: the slice itself when there is one,
    /// else a copy of them joined.
    pub fn to_bytes(&self) -> Bytes {
        match self.slices.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut joined = BytesMut::with_capacity(self.len);
                for s in many {
                    joined.extend_from_slice(s);
                }
                joined.freeze()
            }
        }
    }

    /// All the octets copied into a `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len);
        for s in &self.slices {
            v.extend_from_slice(s);
        }
        v
    }
}

impl From<Bytes> for Octets {
    fn from(b: Bytes) -> Octets {
        Octets::from_slices(vec![b])
    }
}

impl From<Octets> for Bytes {
    fn from(o: Octets) -> Bytes {
        o.to_bytes()
    }
}

impl PartialEq<[u8]> for Octets {
    fn eq(&self, other: &[u8]) -> bool {
        if other.len() != self.len {
            return false;
        }
        let mut at = 0;
        self.slices.iter().all(|s| {
            let same = other[at..at + s.len()] == s[..];
            at += s.len();
            same
        })
    }
}

/// Reading consumes the octets from the front.
impl Buf for Octets {
    fn remaining(&self) -> usize {
        self.len
    }

    fn chunk(&self) -> &[u8] {
        self.slices.first().map_or(&[], |s| s.as_ref())
    }

    fn advance(&mut self, mut count: usize) {
        assert!(
            count <= self.len,
            "advance by {count} past the {} octets left",
            self.len
        );
        self.len -= count;
        let mut whole = 0;
        for s in &mut self.slices {
            if count < s.len() {
                s.advance(count);
                break;
            }
            count -= s.len();
            whole += 1;
        }
        self.slices.drain(..whole);
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (d, s) in dst.iter_mut().zip(&self.slices) {
            *d = IoSlice::new(s);
            n += 1;
        }
        n
    }

    fn copy_to_bytes(&mut self, len: usize) -> Bytes {
        if self.slices.first().is_some_and(|s| s.len() >= len) {
            self.len -= len;
            let taken = self.slices[0].split_to(len);
            if self.slices[0].is_empty() {
                self.slices.remove(0);
            }
            return taken;
        }
        assert!(len <= self.len, "copy_to_bytes past the end");
        let mut joined = BytesMut::with_capacity(len);
        joined.put((&mut *self).take(len));
        joined.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn three() -> Octets {
        Octets::from_slices(vec![
            Bytes::from_static(b"hello"),
            Bytes::new(),
            Bytes::from_static(b", "),
            Bytes::from_static(b"world"),
        ])
    }

    #[test]
    fn slices_join_and_compare() {
        let o = three();
        assert_eq!(o.len(), 12);
        assert_eq!(o.slices().len(), 3, "the empty slice is left out");
        assert_eq!(o.to_bytes(), Bytes::from_static(b"hello, world"));
        assert_eq!(o.to_vec(), b"hello, world");
        assert!(o == b"hello, world"[..]);
        assert!(o != b"hello, worle"[..]);
        assert!(o != b"hello"[..]);
        assert_eq!(Bytes::from(o), Bytes::from_static(b"hello, world"));
        let one = Bytes::from_static(b"one");
        let o = Octets::from(one.clone());
        assert_eq!(o.to_bytes().as_ptr(), one.as_ptr(), "one slice, no copy");
        assert_eq!(Bytes::from(o).as_ptr(), one.as_ptr());
        assert!(Octets::default().is_empty());
        assert_eq!(Octets::default().to_bytes(), Bytes::new());
    }

    #[test]
    fn read_as_a_buf() {
        let mut o = three();
        assert_eq!(o.chunk(), b"hello");
        o.advance(3);
        assert_eq!(o.remaining(), 9);
        assert_eq!(o.chunk(), b"lo");
        o.advance(2);
        assert_eq!(o.chunk(), b", ", "a used-up slice is dropped");
        assert_eq!(o.copy_to_bytes(1), Bytes::from_static(b","));
        assert_eq!(
            o.copy_to_bytes(3),
            Bytes::from_static(b" wo"),
            "across slices"
        );
        let mut rest = String::new();
        o.clone().reader().read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "rld");
        let mut io = [IoSlice::new(&[]); 4];
        let whole = three();
        assert_eq!(whole.chunks_vectored(&mut io), 3);
        assert_eq!(&*io[2], b"world");
        o.advance(3);
        assert!(!o.has_remaining());
        assert!(o.slices().is_empty());
    }
}

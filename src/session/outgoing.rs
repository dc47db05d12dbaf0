//! Outgoing messages and files as sources of chunks: numbering (Byte-Range),
//! continuation flags, both kinds of file resume (python-msrplib's position-based
//! one and RFC 5547 §8's file range), and reading from disk only as chunks
//! are produced.

use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::io::SeekFrom;
use std::sync::Arc;

use super::{FileSource, OutgoingFile, OutgoingMessage, SessionError};
use crate::protocol::{ids, ByteRange, Chunk, Continuation, FailureReport, Header, SuccessReport};
use crate::transport::{ChunkParams, TransportInfo};

/// Chunks with more payload than this carry `*` as their Byte-Range end so
/// they can be interrupted (RFC 4975 §7.1.1).
pub const INTERRUPTIBLE_OVER: usize = 2048;

/// Files are read in blocks of this size (one trip to the blocking pool per
/// block, not per chunk); chunks are slices of the block. The next block is
/// read while the current one is being sent.
const FILE_BLOCK: usize = 1 << 20;

/// A block being read on the blocking pool; gives the file back with it.
type BlockRead = tokio::task::JoinHandle<std::io::Result<(std::fs::File, Vec<u8>)>>;

enum Body {
    Memory(Bytes),
    File {
        source: Option<FileSource>,
        /// The open file, when no block read has it.
        file: Option<std::fs::File>,
        base: u64,
        /// Octets read ahead, starting at `next` (when there is no leftover).
        block: Bytes,
        /// The next block, being read.
        ahead: Option<BlockRead>,
        /// The blocks handed out, oldest first: once every chunk cut from
        /// one was written (its octets are no longer shared), its buffer
        /// takes the next block (no allocation and no fresh pages per MiB).
        handed_out: VecDeque<Bytes>,
        /// Octets of the message not yet asked of the file.
        unread: u64,
    },
}

/// Reads exactly `want` octets from `file` on the blocking pool, straight
/// into the block that chunks are cut from (no copy in between).
fn read_block(file: std::fs::File, want: u64, mut block: Vec<u8>) -> BlockRead {
    tokio::task::spawn_blocking(move || {
        read_exactly(&file, want as usize, &mut block)?;
        Ok((file, block))
    })
}

/// Reads exactly `want` octets from `file` into `block` (emptied first),
/// with reads as large as what is left. (std's `read_to_end` through
/// `take` starts at 8 KiB and doubles: eight reads per MiB.)
fn read_exactly(file: &std::fs::File, want: usize, block: &mut Vec<u8>) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    block.clear();
    block.reserve_exact(want);
    while block.len() < want {
        let left = want - block.len();
        let spare = &mut block.spare_capacity_mut()[..left];
        // SAFETY: the fd is open for the call (`file` is borrowed), and the
        // kernel writes at most `spare.len()` octets into the spare room.
        let n = unsafe { libc::read(file.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        match n {
            0 => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "file is shorter than its declared size",
                ))
            }
            n if n < 0 => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            // SAFETY: the kernel initialised these `n` octets of the spare room.
            n => unsafe { block.set_len(block.len() + n as usize) },
        }
    }
    Ok(())
}

/// One message being sent.
pub(crate) struct Source {
    /// Shared with the transactions of its chunks (one copy per message).
    pub message_id: Arc<str>,
    content_type: String,
    headers: Vec<Header>,
    pub success_report: bool,
    pub failure_report: FailureReport,
    /// Next octet to send, 1-based in the message's numbering.
    pub next: u64,
    /// First octet this send covers.
    pub first: u64,
    /// The message's total length.
    pub total: u64,
    body: Body,
    /// Payload cut off by an interruption, to send first.
    leftover: Option<Bytes>,
    /// Whether any chunk went out.
    pub started: bool,
    /// Whether the message was found stopped (error answer, cancel) when
    /// its last chunk was written.
    pub stop_seen: bool,
    /// The encoded head shared by this message's chunks, made with the
    /// first one; `Some(None)` when the message's headers cannot be
    /// templated (see [`HeadTemplate::new`]).
    template: Option<Option<HeadTemplate>>,
}

impl Source {
    pub fn message(msg: OutgoingMessage) -> Result<Source, SessionError> {
        let message_id = checked_message_id(msg.message_id)?;
        Ok(Source {
            message_id: message_id.into(),
            content_type: msg.content_type,
            headers: msg.headers,
            success_report: msg.success_report,
            failure_report: msg.failure_report,
            next: 1,
            first: 1,
            total: msg.body.len() as u64,
            body: Body::Memory(msg.body),
            leftover: None,
            started: false,
            stop_seen: false,
            template: None,
        })
    }

    pub fn file(f: OutgoingFile, max_size: Option<u64>) -> Result<Source, SessionError> {
        let size = match (f.size, &f.source) {
            (Some(s), _) => s,
            (None, FileSource::Path(p)) => std::fs::metadata(p).map_err(SessionError::Io)?.len(),
            (None, FileSource::File(file)) => file.metadata().map_err(SessionError::Io)?.len(),
        };
        let (base, first, total) = match f.range {
            Some((a, b)) => {
                if a >= b || b > size {
                    return Err(SessionError::InvalidArgument(format!(
                        "file range [{a}, {b}) does not fit a file of {size} octets"
                    )));
                }
                (a, 1, b - a)
            }
            None => {
                if f.position > size {
                    return Err(SessionError::InvalidArgument(format!(
                        "position {} is beyond the file size {size}",
                        f.position
                    )));
                }
                (0, f.position + 1, size)
            }
        };
        if let Some(max) = max_size {
            if total > max {
                return Err(SessionError::InvalidArgument(format!(
                    "file of {total} octets exceeds the peer's max-size {max}"
                )));
            }
        }
        if f.position > 0 && f.message_id.is_none() {
            return Err(SessionError::InvalidArgument(
                "resuming at a position needs the original message id".into(),
            ));
        }
        Ok(Source {
            message_id: checked_message_id(f.message_id)?.into(),
            content_type: f.content_type,
            headers: f.headers,
            success_report: f.success_report,
            failure_report: FailureReport::Yes,
            next: first,
            first,
            total,
            body: Body::File {
                source: Some(f.source),
                file: None,
                base,
                block: Bytes::new(),
                ahead: None,
                handed_out: VecDeque::new(),
                unread: 0,
            },
            leftover: None,
            started: false,
            stop_seen: false,
            template: None,
        })
    }

    /// Whether every octet has been produced.
    pub fn done(&self) -> bool {
        self.started && self.next > self.total && self.leftover.is_none()
    }

    /// Octets of payload the next chunk carries, at most `max`.
    fn next_len(&self, max: usize) -> usize {
        let remaining = (self.total + 1).saturating_sub(self.next);
        (max.max(1) as u64).min(remaining) as usize
    }

    /// The next chunk's payload (at most `max` octets) when it is at hand
    /// without waiting for the file; `None` when [`Source::fill`] must run
    /// first.
    pub fn take_ready(&mut self, max: usize) -> Option<Bytes> {
        if let Some(l) = self.leftover.take() {
            return Some(l);
        }
        let n = self.next_len(max);
        match &mut self.body {
            Body::Memory(b) => {
                let start = (self.next - 1) as usize;
                Some(b.slice(start..start + n))
            }
            Body::File {
                source: None,
                block,
                ..
            } if block.len() >= n => Some(block.split_to(n)),
            Body::File { .. } => None,
        }
    }

    /// Waits until the next chunk's payload (at most `max` octets) is at
    /// hand: opens the file on first use, then waits for the block being
    /// read ahead (and starts reading the one after it).
    pub async fn fill(&mut self, max: usize) -> std::io::Result<()> {
        if self.leftover.is_some() {
            return Ok(());
        }
        let remaining = (self.total + 1).saturating_sub(self.next);
        let n = self.next_len(max);
        let Body::File {
            source,
            file,
            base,
            block,
            ahead,
            handed_out,
            unread,
        } = &mut self.body
        else {
            return Ok(());
        };
        if let Some(source) = source.take() {
            let start = *base + self.next - 1;
            let opened = tokio::task::spawn_blocking(move || {
                use std::io::Seek;
                let mut f = match source {
                    FileSource::Path(p) => std::fs::File::open(p)?,
                    FileSource::File(f) => f,
                };
                f.seek(SeekFrom::Start(start))?;
                Ok::<_, std::io::Error>(f)
            })
            .await
            .map_err(std::io::Error::other)??;
            *unread = remaining;
            *file = Some(opened);
            start_block(file, ahead, handed_out, unread);
        }
        while block.len() < n {
            let Some(read) = ahead.take() else {
                return Err(std::io::Error::other("file source already used"));
            };
            let (f, data) = read.await.map_err(std::io::Error::other)??;
            *file = Some(f);
            // Read the next block while this one is sent.
            start_block(file, ahead, handed_out, unread);
            if block.is_empty() {
                *block = Bytes::from(data);
                handed_out.push_back(block.clone());
            } else {
                let mut joined = BytesMut::with_capacity(block.len() + data.len());
                joined.extend_from_slice(block);
                joined.extend_from_slice(&data);
                *block = joined.freeze();
            }
        }
        Ok(())
    }

    /// The next chunk's payload (at most `max` octets), waiting for the
    /// file when needed.
    pub async fn next_payload(&mut self, max: usize) -> std::io::Result<Bytes> {
        if let Some(data) = self.take_ready(max) {
            return Ok(data);
        }
        self.fill(max).await?;
        self.take_ready(max)
            .ok_or_else(|| std::io::Error::other("file data missing after reading"))
    }

    /// Counts `data` as produced: the range it covers, 1-based in the
    /// message's numbering, and whether it ends the message.
    pub fn advance(&mut self, data: &Bytes) -> (u64, bool) {
        let start = self.next;
        self.next += data.len() as u64;
        self.started = true;
        (start, self.next > self.total)
    }

    /// The chunk carrying `data`, which starts at octet `start` (see
    /// [`Source::advance`]); `last` when it ends the message.
    pub fn make_chunk(&self, info: &TransportInfo, start: u64, last: bool, data: Bytes) -> Chunk {
        let len = data.len() as u64;
        let mut chunk = info.make_chunk(ChunkParams {
            message_id: Some(self.message_id.to_string()),
            content_type: Some(self.content_type.clone()),
            start: Some(start),
            end: Some(start + len - 1),
            length: Some(self.total),
            continuation: Some(if last {
                Continuation::End
            } else {
                Continuation::More
            }),
            data,
            ..Default::default()
        });
        if len as usize > INTERRUPTIBLE_OVER {
            chunk.add_header(Header::ByteRange(ByteRange {
                start,
                end: None,
                total: Some(self.total),
            }));
        }
        if self.success_report {
            chunk.add_header(Header::SuccessReport(SuccessReport::Yes));
        }
        if self.failure_report != FailureReport::Yes {
            chunk.add_header(Header::FailureReport(self.failure_report));
        }
        for h in &self.headers {
            chunk.add_header(h.clone());
        }
        chunk
    }

    /// This message's head template, made on first use from the chunk
    /// [`Source::make_chunk`] builds; `None` when it cannot be used.
    pub fn template(&mut self, info: &TransportInfo) -> Option<&HeadTemplate> {
        if self.template.is_none() {
            let prototype = self.make_chunk(info, 1, false, Bytes::from_static(b"x"));
            self.template = Some(HeadTemplate::new(&prototype));
        }
        self.template.as_ref().and_then(Option::as_ref)
    }

    /// After an interruption: `sent` octets of `chunk_data` went out; the
    /// rest is sent first in the next chunk.
    pub fn interrupted(&mut self, chunk_start: u64, chunk_data: &Bytes, sent: usize) {
        self.leftover = Some(chunk_data.slice(sent..));
        self.next = chunk_start + sent as u64;
    }

    /// The `#` chunk that aborts this message (RFC 4975 §7.1).
    pub fn abort_chunk(&self, info: &TransportInfo) -> Chunk {
        let mut c = info.make_chunk(ChunkParams {
            message_id: Some(self.message_id.to_string()),
            content_type: Some(self.content_type.clone()),
            start: Some(self.next),
            end: Some(self.next - 1),
            length: Some(self.total),
            continuation: Some(Continuation::Abort),
            ..Default::default()
        });
        c.add_header(Header::ByteRange(ByteRange {
            start: self.next,
            end: None,
            total: Some(self.total),
        }));
        c
    }
}

/// The encoded head of one message's chunks, but for what changes from
/// chunk to chunk: every chunk of a message has the same To-Path, From-Path,
/// Message-ID, Content-Type and other headers, and differs only in its
/// transaction id and Byte-Range. Encoding them once per message instead of
/// building and encoding a [`Chunk`] per chunk is most of what sending a
/// chunk costs besides the payload. The bytes are exactly what
/// [`Chunk::encode_start_into`] gives for the chunk [`Source::make_chunk`]
/// builds (a test checks it).
pub(crate) struct HeadTemplate {
    /// The headers before Byte-Range (To-Path, From-Path, Message-ID).
    before_range: Vec<u8>,
    /// The headers after Byte-Range and the blank line before the payload.
    after_range: Vec<u8>,
    /// The Failure-Report the chunks carry (explicit or implied).
    pub failure_report: FailureReport,
}

impl HeadTemplate {
    /// Splits `prototype`'s encoded head around its Byte-Range line.
    /// `None` when the head has no single Byte-Range line this library
    /// wrote (the message's own headers added another one).
    fn new(prototype: &Chunk) -> Option<HeadTemplate> {
        let mut head = Vec::with_capacity(256);
        prototype.encode_start_into(&mut head);
        let first_line = memchr::memmem::find(&head, b"\r\n")? + 2;
        // A second Byte-Range line can only come from another header of
        // that name among the message's own.
        if prototype
            .headers
            .iter()
            .filter(|h| h.same_name("Byte-Range"))
            .count()
            != 1
        {
            return None;
        }
        let at = memchr::memmem::find(&head, b"\r\nByte-Range: ")? + 2;
        let line_end = at + memchr::memmem::find(&head[at..], b"\r\n")? + 2;
        Some(HeadTemplate {
            before_range: head[first_line..at].to_vec(),
            after_range: head[line_end..].to_vec(),
            failure_report: prototype.failure_report(),
        })
    }

    /// Appends the head of the SEND chunk `transaction_id` carrying octets
    /// `start` to `end` (`None`: `*`, an interruptible chunk) of a message
    /// of `total` octets.
    pub fn encode_into(
        &self,
        out: &mut Vec<u8>,
        transaction_id: &str,
        start: u64,
        end: Option<u64>,
        total: u64,
    ) {
        out.extend_from_slice(b"MSRP ");
        out.extend_from_slice(transaction_id.as_bytes());
        out.extend_from_slice(b" SEND\r\n");
        out.extend_from_slice(&self.before_range);
        out.extend_from_slice(b"Byte-Range: ");
        push_decimal(out, start);
        out.push(b'-');
        match end {
            Some(end) => push_decimal(out, end),
            None => out.push(b'*'),
        }
        out.push(b'/');
        push_decimal(out, total);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.after_range);
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Starts reading the next block of at most [`FILE_BLOCK`] octets, when the
/// message has octets left to read and no block is being read, into the
/// buffer of a block already sent when there is one.
fn start_block(
    file: &mut Option<std::fs::File>,
    ahead: &mut Option<BlockRead>,
    handed_out: &mut VecDeque<Bytes>,
    unread: &mut u64,
) {
    if ahead.is_some() || *unread == 0 {
        return;
    }
    if let Some(f) = file.take() {
        let want = (FILE_BLOCK as u64).min(*unread);
        *unread -= want;
        *ahead = Some(read_block(f, want, reusable_block(handed_out)));
    }
}

/// The buffer of the oldest block handed out when nothing shares its octets
/// any more (every chunk cut from it was written), else a new one. Blocks
/// still shared are kept to look at again, at most [`KEEP_BLOCKS`].
fn reusable_block(handed_out: &mut VecDeque<Bytes>) -> Vec<u8> {
    if handed_out.front().is_some_and(Bytes::is_unique) {
        let mut oldest = handed_out.pop_front().expect("looked at");
        // Empty first, so that taking the buffer back copies nothing.
        oldest.truncate(0);
        if let Ok(buffer) = oldest.try_into_mut() {
            return Vec::from(buffer);
        }
    }
    while handed_out.len() >= KEEP_BLOCKS {
        handed_out.pop_front();
    }
    Vec::new()
}

/// Blocks handed out that are remembered for their buffers.
const KEEP_BLOCKS: usize = 2;

fn checked_message_id(id: Option<String>) -> Result<String, SessionError> {
    match id {
        Some(id) if crate::protocol::headers::is_ident(&id) => Ok(id),
        Some(id) => Err(SessionError::InvalidArgument(format!(
            "message id {id:?} is not 4-32 ident characters"
        ))),
        None => Ok(ids::message_id()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Limits, Uri};
    use crate::transport::{PathMatching, Stream};

    fn uris(list: &[&str]) -> Vec<Uri> {
        list.iter().map(|u| Uri::parse(u).unwrap()).collect()
    }

    /// A transport's facts for the given paths (over a real loopback socket).
    async fn info(local: &[&str], remote: &[&str], use_path: &[&str]) -> TransportInfo {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _peer = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let stream = Stream::Tcp(listener.accept().await.unwrap().0);
        TransportInfo::new(
            uris(local),
            uris(remote),
            uris(use_path),
            PathMatching::Uri,
            &stream,
            Limits::default(),
            crate::log::default_logger(),
        )
    }

    /// The template gives, for every chunk, exactly the head that building
    /// and encoding the chunk gives: plain, IPv6, TLS and relay paths, with
    /// and without the reports and extra headers, both Byte-Range forms.
    #[tokio::test]
    async fn template_heads_equal_encoded_chunks() {
        let paths: [(&[&str], &[&str], &[&str]); 3] = [
            (
                &["msrp://127.0.0.1:2855/abc;tcp"],
                &["msrp://127.0.0.1:1/d;tcp"],
                &[],
            ),
            (
                &["msrps://[::1]:2856/ipv6id;tcp"],
                &["msrps://[2001:db8::7]:9/x;tcp"],
                &[],
            ),
            (
                &[
                    "msrps://relay.example.com:2855/r1;tcp",
                    "msrps://a.example.com:1/me;tcp",
                ],
                &[
                    "msrps://relay.example.org:2855/r2;tcp",
                    "msrps://b.example.org:2/you;tcp",
                ],
                &["msrps://relay.example.com:2855/r1;tcp"],
            ),
        ];
        let messages = || {
            let body = Bytes::from(vec![b'z'; 20_000]);
            let plain = OutgoingMessage::new("text/plain", body.clone());
            let mut reports = OutgoingMessage::new("message/cpim", body.clone());
            reports.success_report = true;
            reports.failure_report = FailureReport::Partial;
            let mut extra = OutgoingMessage::new("application/octet-stream", body.clone());
            extra.failure_report = FailureReport::No;
            extra.message_id = Some("fixedid1234".into());
            extra.headers = vec![
                Header::Extension {
                    name: "Content-Description".into(),
                    value: "a file".into(),
                },
                Header::Extension {
                    name: "X-Extra".into(),
                    value: "1".into(),
                },
                // Replaces the Failure-Report the message asked for.
                Header::FailureReport(FailureReport::Yes),
            ];
            [plain, reports, extra]
        };
        for (local, remote, use_path) in paths {
            let info = info(local, remote, use_path).await;
            for message in messages() {
                let mut src = Source::message(message).unwrap();
                for (start, len, last) in [
                    (1u64, 1usize, false),
                    (1, INTERRUPTIBLE_OVER, false),
                    (2049, INTERRUPTIBLE_OVER + 1, false),
                    (11_809, 8192, true),
                ] {
                    let chunk = src.make_chunk(&info, start, last, Bytes::from(vec![b'q'; len]));
                    let mut expected = Vec::new();
                    chunk.encode_start_into(&mut expected);
                    let total = src.total;
                    let template = src.template(&info).expect("templated");
                    let end = (len <= INTERRUPTIBLE_OVER).then_some(start + len as u64 - 1);
                    let mut got = Vec::new();
                    template.encode_into(&mut got, &chunk.transaction_id, start, end, total);
                    assert_eq!(
                        String::from_utf8(got).unwrap(),
                        String::from_utf8(expected).unwrap()
                    );
                    assert_eq!(template.failure_report, chunk.failure_report());
                }
            }
        }
    }

    /// A message whose own headers add a second Byte-Range line is sent
    /// chunk by chunk, not from a template.
    #[tokio::test]
    async fn no_template_with_a_second_byte_range() {
        let info = info(
            &["msrp://127.0.0.1:2855/abc;tcp"],
            &["msrp://127.0.0.1:1/d;tcp"],
            &[],
        )
        .await;
        let mut message = OutgoingMessage::new("text/plain", &b"hello"[..]);
        message.headers = vec![Header::Extension {
            name: "Byte-Range".into(),
            value: "1-5/5".into(),
        }];
        let mut src = Source::message(message).unwrap();
        assert!(src.template(&info).is_none());
    }

    /// Blocks are read whole with large reads, into a reused buffer, and a
    /// file shorter than asked is an error, not a short block.
    #[test]
    fn blocks_are_read_exactly() {
        use std::io::{Seek, Write};
        let content: Vec<u8> = (0..(3 << 20) + 5).map(|i| (i * 7 % 251) as u8).collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&content).unwrap();
        file.rewind().unwrap();
        let mut block = b"left over".to_vec();
        for i in 0..3 {
            read_exactly(&file, 1 << 20, &mut block).unwrap();
            assert!(block == content[i << 20..(i + 1) << 20], "block {i}");
        }
        let short = read_exactly(&file, 10, &mut block).unwrap_err();
        assert_eq!(short.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}

//! Outgoing messages and files as sources of chunks: numbering (Byte-Range),
//! continuation flags, both kinds of file resume (the seed's position-based
//! one and RFC 5547 §8's file range), and reading from disk only as chunks
//! are produced.

use bytes::{Bytes, BytesMut};
use std::io::SeekFrom;

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
        /// Octets of the message not yet asked of the file.
        unread: u64,
    },
}

/// Reads exactly `want` octets from `file` on the blocking pool, straight
/// into the block that chunks are cut from (no copy in between).
fn read_block(mut file: std::fs::File, want: u64) -> BlockRead {
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut block = Vec::with_capacity(want as usize);
        (&mut file).take(want).read_to_end(&mut block)?;
        if (block.len() as u64) < want {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "file is shorter than its declared size",
            ));
        }
        Ok((file, block))
    })
}

/// One message being sent.
pub(crate) struct Source {
    pub message_id: String,
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
}

impl Source {
    pub fn message(msg: OutgoingMessage) -> Result<Source, SessionError> {
        let message_id = checked_message_id(msg.message_id)?;
        Ok(Source {
            message_id,
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
            message_id: checked_message_id(f.message_id)?,
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
                unread: 0,
            },
            leftover: None,
            started: false,
        })
    }

    /// Whether every octet has been produced.
    pub fn done(&self) -> bool {
        self.started && self.next > self.total && self.leftover.is_none()
    }

    async fn read(&mut self, max: usize) -> std::io::Result<Bytes> {
        if let Some(l) = self.leftover.take() {
            return Ok(l);
        }
        let remaining = (self.total + 1).saturating_sub(self.next);
        let n = (max as u64).min(remaining) as usize;
        match &mut self.body {
            Body::Memory(b) => {
                let start = (self.next - 1) as usize;
                Ok(b.slice(start..start + n))
            }
            Body::File {
                source,
                file,
                base,
                block,
                ahead,
                unread,
            } => {
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
                    start_block(file, ahead, unread);
                }
                while block.len() < n {
                    let Some(read) = ahead.take() else {
                        return Err(std::io::Error::other("file source already used"));
                    };
                    let (f, data) = read.await.map_err(std::io::Error::other)??;
                    *file = Some(f);
                    // Read the next block while this one is sent.
                    start_block(file, ahead, unread);
                    if block.is_empty() {
                        *block = Bytes::from(data);
                    } else {
                        let mut joined = BytesMut::with_capacity(block.len() + data.len());
                        joined.extend_from_slice(block);
                        joined.extend_from_slice(&data);
                        *block = joined.freeze();
                    }
                }
                Ok(block.split_to(n))
            }
        }
    }

    /// Produces the next chunk (at most `max` octets of payload).
    pub async fn next_chunk(&mut self, info: &TransportInfo, max: usize) -> std::io::Result<Chunk> {
        let data = self.read(max.max(1)).await?;
        let start = self.next;
        let len = data.len() as u64;
        self.next += len;
        self.started = true;
        let last = self.next > self.total;
        let mut chunk = info.make_chunk(ChunkParams {
            message_id: Some(self.message_id.clone()),
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
        Ok(chunk)
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
            message_id: Some(self.message_id.clone()),
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

/// Starts reading the next block of at most [`FILE_BLOCK`] octets, when the
/// message has octets left to read and no block is being read.
fn start_block(file: &mut Option<std::fs::File>, ahead: &mut Option<BlockRead>, unread: &mut u64) {
    if ahead.is_some() || *unread == 0 {
        return;
    }
    if let Some(f) = file.take() {
        let want = (FILE_BLOCK as u64).min(*unread);
        *unread -= want;
        *ahead = Some(read_block(f, want));
    }
}

fn checked_message_id(id: Option<String>) -> Result<String, SessionError> {
    match id {
        Some(id) if crate::protocol::headers::is_ident(&id) => Ok(id),
        Some(id) => Err(SessionError::InvalidArgument(format!(
            "message id {id:?} is not 4-32 ident characters"
        ))),
        None => Ok(ids::message_id()),
    }
}

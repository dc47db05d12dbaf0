//! Outgoing messages and files as sources of chunks: numbering (Byte-Range),
//! continuation flags, both kinds of file resume (the seed's position-based
//! one and RFC 5547 §8's file range), and reading from disk only as chunks
//! are produced.

use bytes::{Bytes, BytesMut};
use std::io::SeekFrom;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{FileSource, OutgoingFile, OutgoingMessage, SessionError};
use crate::protocol::{ids, ByteRange, Chunk, Continuation, FailureReport, Header, SuccessReport};
use crate::transport::{ChunkParams, TransportInfo};

/// Chunks with more payload than this carry `*` as their Byte-Range end so
/// they can be interrupted (RFC 4975 §7.1.1).
pub const INTERRUPTIBLE_OVER: usize = 2048;

/// Files are read in blocks of this size (one trip to the blocking pool per
/// block, not per chunk); chunks are slices of the block.
const FILE_BLOCK: usize = 1 << 20;

enum Body {
    Memory(Bytes),
    File {
        source: Option<FileSource>,
        file: Option<tokio::fs::File>,
        base: u64,
        /// Octets read ahead, starting at `next` (when there is no leftover).
        block: Bytes,
    },
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
            } => {
                if file.is_none() {
                    let mut f = match source.take() {
                        Some(FileSource::Path(p)) => tokio::fs::File::open(p).await?,
                        Some(FileSource::File(f)) => tokio::fs::File::from_std(f),
                        None => return Err(std::io::Error::other("file source already used")),
                    };
                    f.seek(SeekFrom::Start(*base + self.next - 1)).await?;
                    *file = Some(f);
                }
                if block.len() < n {
                    // Read ahead a block (never past the message's end).
                    let f = file.as_mut().expect("opened above");
                    let want = (FILE_BLOCK.max(n) as u64).min(remaining) as usize;
                    let mut buf = BytesMut::with_capacity(want);
                    buf.extend_from_slice(block);
                    while buf.len() < want {
                        let got = f.read_buf(&mut buf).await?;
                        if got == 0 {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "file is shorter than its declared size",
                            ));
                        }
                    }
                    buf.truncate(want);
                    *block = buf.freeze();
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

fn checked_message_id(id: Option<String>) -> Result<String, SessionError> {
    match id {
        Some(id) if crate::protocol::headers::is_ident(&id) => Ok(id),
        Some(id) => Err(SessionError::InvalidArgument(format!(
            "message id {id:?} is not 4-32 ident characters"
        ))),
        None => Ok(ids::message_id()),
    }
}

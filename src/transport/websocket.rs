//! MSRP over WebSocket (RFC 7977): the opening handshakes (client and
//! server, both requiring the `msrp` subprotocol, §4.1), and [`WsStream`],
//! which turns a WebSocket connection back into the byte stream the rest of
//! the stack reads and writes.
//!
//! Reading: the payloads of text and binary messages alike (§4.2: text is
//! read as binary) are handed on in order, so the MSRP parser sees what it
//! would see on TCP; a message holding two chunks, or a chunk spread over two
//! messages, is therefore still read (RFC 4975 §7: liberal in what is
//! accepted). Pings are answered by the WebSocket layer; a close frame ends
//! the stream, as a FIN does, when its code is 1000 (normal) or 1001 (going
//! away) or absent, and as an error naming the code otherwise.
//!
//! Writing: the octets written are cut into messages at the end-line of
//! each MSRP chunk (RFC 4975 §7.1: `-------` transaction-id flag CRLF), so
//! each chunk travels in exactly one message and no message holds two
//! (RFC 7977 §5.1), however the writer above gathered or sliced them. A
//! chunk is sent as a text message when it is valid UTF-8, else binary
//! (the browser API delivers either, §4.2). A flush does not cut a chunk.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream as _;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{self, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::stream::Stream;

/// The WebSocket subprotocol of MSRP (RFC 7977 §4.1, §10.1).
pub const SUBPROTOCOL: &str = "msrp";

/// Largest upgrade request a server reads (request line and headers). A
/// browser's is under 1 KiB; the limit only bounds what a hostile client
/// makes the server hold.
pub const MAX_UPGRADE_REQUEST: usize = 8 * 1024;

/// Default time a client has to send its whole upgrade request.
pub const DEFAULT_UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);

/// Room above the largest assembled chunk for a message's head and
/// end-line: a WebSocket message is one whole chunk.
const MESSAGE_HEADROOM: usize = 64 * 1024;

/// Complete messages queued for the WebSocket layer beyond which a write
/// waits until the socket took some.
const MAX_QUEUED: usize = 256 * 1024;

/// How a listener takes connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WsListen {
    /// MSRP over TCP (or TLS) only: the default.
    #[default]
    TcpOnly,
    /// MSRP over WebSocket only (over TLS: WSS).
    WsOnly,
    /// Both on one port: a connection whose first octets are `GET ` is a
    /// WebSocket upgrade, any other is MSRP (whose first octets are `MSRP`).
    Both,
}

/// WebSocket settings of an endpoint.
#[derive(Debug, Clone, Default)]
pub struct WsSettings {
    /// What listeners accept.
    pub listen: WsListen,
    /// When set, a server accepts an upgrade only with an `Origin` header
    /// equal (ASCII case-insensitive) to one of these, such as
    /// `https://chat.example.com`; others are answered 403. When `None`, any
    /// origin, or none, is accepted.
    pub allowed_origins: Option<Vec<String>>,
    /// Time allowed for a client's upgrade request; [`DEFAULT_UPGRADE_TIMEOUT`]
    /// when `None`.
    pub upgrade_timeout: Option<Duration>,
}

/// The WebSocket layer's limits for a connection whose chunks are at most
/// `max_chunk` octets assembled.
fn ws_config(max_chunk: u64) -> WebSocketConfig {
    let max = usize::try_from(max_chunk)
        .unwrap_or(usize::MAX)
        .min(64 << 20)
        .saturating_add(MESSAGE_HEADROOM);
    WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}

/// A prefix already read from a stream, then the stream itself.
#[derive(Debug)]
pub struct Rewind {
    prefix: Bytes,
    inner: Stream,
}

impl Rewind {
    pub fn new(prefix: Bytes, inner: Stream) -> Rewind {
        Rewind { prefix, inner }
    }

    pub fn inner(&self) -> &Stream {
        &self.inner
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Cuts an outgoing MSRP byte stream into one message per chunk.
#[derive(Debug, Default)]
struct ChunkSplitter {
    /// The chunk being written, from its first octet.
    current: Vec<u8>,
    /// The end-line's start to look for: CRLF `-------` transaction-id,
    /// known once the start line is whole.
    needle: Option<Vec<u8>>,
    /// Where the search for the needle goes on from.
    scan: usize,
}

impl ChunkSplitter {
    /// Appends octets; complete chunks are pushed onto `done`.
    fn push(&mut self, mut data: &[u8], done: &mut VecDeque<Vec<u8>>) -> usize {
        let mut octets = 0;
        while !data.is_empty() {
            let before = self.current.len();
            self.current.extend_from_slice(data);
            match self.find_end() {
                Some(end) => {
                    let taken = end - before;
                    data = &data[taken..];
                    self.current.truncate(end);
                    octets += end;
                    done.push_back(std::mem::take(&mut self.current));
                    self.needle = None;
                    self.scan = 0;
                }
                None => data = &[],
            }
        }
        octets
    }

    /// The length of the first whole chunk in `current`, if it is there.
    fn find_end(&mut self) -> Option<usize> {
        if self.needle.is_none() {
            // Start line: "MSRP" SP transaction-id SP ... CRLF.
            let eol = memchr::memmem::find(&self.current, b"\r\n")?;
            let line = &self.current[..eol];
            let tid = line
                .split(|&b| b == b' ')
                .nth(1)
                .filter(|t| !t.is_empty())
                .unwrap_or(b"");
            let mut needle = b"\r\n-------".to_vec();
            needle.extend_from_slice(tid);
            self.needle = Some(needle);
            // The end-line follows the CRLF that ends the start line or a
            // header: search from that first CRLF.
            self.scan = eol;
        }
        let needle = self.needle.as_ref().expect("set above");
        loop {
            let from = self.scan;
            let Some(at) = memchr::memmem::find(&self.current[from..], needle) else {
                // The needle may be cut at the end: keep its length to search again.
                self.scan = self.current.len().saturating_sub(needle.len()).max(from);
                return None;
            };
            let at = from + at;
            let flag = at + needle.len();
            // Flag and CRLF after the transaction id.
            if self.current.len() < flag + 3 {
                self.scan = at;
                return None;
            }
            if matches!(self.current[flag], b'$' | b'+' | b'#')
                && &self.current[flag + 1..flag + 3] == b"\r\n"
            {
                return Some(flag + 3);
            }
            self.scan = at + 1;
        }
    }
}

/// A WebSocket connection read and written as a byte stream of MSRP.
pub struct WsStream {
    ws: WebSocketStream<Rewind>,
    /// What is left of the last message received.
    incoming: Bytes,
    /// The peer's close frame ended the stream (or the connection ended).
    eof: bool,
    splitter: ChunkSplitter,
    /// Whole chunks not yet handed to the WebSocket layer.
    ready: VecDeque<Vec<u8>>,
    ready_octets: usize,
    /// The path the client asked for (server side) or the URI (client side).
    resource: String,
}

impl std::fmt::Debug for WsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsStream")
            .field("inner", self.ws.get_ref().inner())
            .field("resource", &self.resource)
            .finish()
    }
}

fn ws_io_error(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            io::Error::new(io::ErrorKind::NotConnected, "WebSocket closed")
        }
        other => io::Error::new(io::ErrorKind::InvalidData, format!("WebSocket: {other}")),
    }
}

impl WsStream {
    fn new(ws: WebSocketStream<Rewind>, resource: String) -> WsStream {
        WsStream {
            ws,
            incoming: Bytes::new(),
            eof: false,
            splitter: ChunkSplitter::default(),
            ready: VecDeque::new(),
            ready_octets: 0,
            resource,
        }
    }

    /// The stream under the WebSocket layer (TCP or TLS).
    pub fn inner(&self) -> &Stream {
        self.ws.get_ref().inner()
    }

    /// The request path (server side) or URI (client side) of the upgrade.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Hands queued chunks to the WebSocket layer while it takes them.
    fn poll_send_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(chunk) = self.ready.pop_front() {
            match Pin::new(&mut self.ws).poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(ws_io_error(e))),
                Poll::Pending => {
                    self.ready.push_front(chunk);
                    return Poll::Pending;
                }
            }
            self.ready_octets -= chunk.len();
            let message = match String::from_utf8(chunk) {
                Ok(text) => Message::Text(Utf8Bytes::from(text)),
                Err(e) => Message::Binary(Bytes::from(e.into_bytes())),
            };
            Pin::new(&mut self.ws)
                .start_send(message)
                .map_err(ws_io_error)?;
        }
        Poll::Ready(Ok(()))
    }

    fn take_message(&mut self, message: Message) -> io::Result<()> {
        match message {
            Message::Text(t) => self.incoming = Bytes::from(t),
            Message::Binary(b) => self.incoming = b,
            Message::Close(frame) => {
                self.eof = true;
                if let Some(f) = frame {
                    if !matches!(f.code, CloseCode::Normal | CloseCode::Away) {
                        return Err(io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            format!(
                                "WebSocket closed by peer with code {}: {}",
                                u16::from(f.code),
                                f.reason
                            ),
                        ));
                    }
                }
            }
            // Pings are answered by the WebSocket layer on its next read
            // or write; pongs only show the peer is there.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
        Ok(())
    }
}

impl AsyncRead for WsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.incoming.is_empty() {
                let n = this.incoming.len().min(buf.remaining());
                buf.put_slice(&this.incoming[..n]);
                this.incoming.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            // Only the read side is driven here. The writer's own flush
            // sends what it queued: a read that sent queued chunks too would
            // register the reading task's waker for the socket's write
            // readiness in place of the writer's (the two halves of a split
            // stream run in different tasks), and a writer waiting for
            // room would never be woken.
            match Pin::new(&mut this.ws).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.eof = true,
                Poll::Ready(Some(Ok(m))) => this.take_message(m)?,
                Poll::Ready(Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed))) => {
                    this.eof = true
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(ws_io_error(e))),
            }
        }
    }
}

impl AsyncWrite for WsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.poll_send_ready(cx)?.is_pending() && this.ready_octets >= MAX_QUEUED {
            return Poll::Pending;
        }
        let mut n = 0;
        for b in bufs {
            this.ready_octets += this.splitter.push(b, &mut this.ready);
            n += b.len();
        }
        let _ = this.poll_send_ready(cx)?;
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.poll_send_ready(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut this.ws).poll_flush(cx).map_err(ws_io_error)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.poll_send_ready(cx)?.is_pending() {
            return Poll::Pending;
        }
        // A normal close frame (RFC 6455 §5.5.1), then the TCP/TLS close.
        match Pin::new(&mut this.ws).poll_close(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(ws_io_error(e))),
        }
    }
}

/// Why a WebSocket handshake failed.
#[derive(Debug)]
pub enum WsHandshakeError {
    Io(io::Error),
    /// The other side's request or answer is not a WebSocket upgrade for
    /// MSRP (the text says what).
    Refused(String),
}

impl std::fmt::Display for WsHandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WsHandshakeError::Io(e) => write!(f, "WebSocket handshake: {e}"),
            WsHandshakeError::Refused(s) => write!(f, "WebSocket handshake refused: {s}"),
        }
    }
}

impl std::error::Error for WsHandshakeError {}

impl From<io::Error> for WsHandshakeError {
    fn from(e: io::Error) -> Self {
        WsHandshakeError::Io(e)
    }
}

fn handshake_error(e: WsError) -> WsHandshakeError {
    match e {
        WsError::Io(e) => WsHandshakeError::Io(e),
        WsError::Http(r) => WsHandshakeError::Refused(format!("answered {}", r.status())),
        other => WsHandshakeError::Refused(other.to_string()),
    }
}

/// Whether a comma-separated header list holds `token` (ASCII
/// case-insensitive, RFC 6455 §4.1 and §11.3.4).
fn header_has_token(headers: &http::HeaderMap, name: &str, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

/// Connects the WebSocket client side over `stream` (TCP, or TLS for wss):
/// `GET /` to `host:port` with `Sec-WebSocket-Protocol: msrp`; a 101 that
/// does not choose `msrp` is refused (RFC 7977 §4.1).
pub async fn connect(
    stream: Stream,
    host: &str,
    port: u16,
    secure: bool,
    max_chunk: u64,
) -> Result<WsStream, WsHandshakeError> {
    let scheme = if secure { "wss" } else { "ws" };
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let uri = format!("{scheme}://{authority}/");
    let request = http::Request::builder()
        .method("GET")
        .uri(&uri)
        .header("Host", &authority)
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", generate_key())
        .header("Sec-WebSocket-Protocol", SUBPROTOCOL)
        .body(())
        .map_err(|e| WsHandshakeError::Refused(format!("{uri}: {e}")))?;
    let (ws, response) = tokio_tungstenite::client_async_with_config(
        request,
        Rewind::new(Bytes::new(), stream),
        Some(ws_config(max_chunk)),
    )
    .await
    .map_err(handshake_error)?;
    if !header_has_token(response.headers(), "Sec-WebSocket-Protocol", SUBPROTOCOL) {
        let mut ws = ws;
        let _ = ws.close(None).await;
        return Err(WsHandshakeError::Refused(
            "the server did not choose the msrp subprotocol".into(),
        ));
    }
    Ok(WsStream::new(ws, uri))
}

/// Reads an HTTP request head (through the empty line) of at most
/// [`MAX_UPGRADE_REQUEST`] octets, after the `already` octets read.
async fn read_request_head(stream: &mut Stream, mut head: BytesMut) -> io::Result<BytesMut> {
    loop {
        // Anything but a GET (an MSRP chunk on a WebSocket-only port) is
        // refused once its first four octets are in, not when time is up.
        if head.len() >= 4 && !head.starts_with(b"GET ") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a WebSocket upgrade (no GET)",
            ));
        }
        if memchr::memmem::find(&head, b"\r\n\r\n").is_some() {
            return Ok(head);
        }
        if head.len() >= MAX_UPGRADE_REQUEST {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("upgrade request longer than {MAX_UPGRADE_REQUEST} octets"),
            ));
        }
        let want = MAX_UPGRADE_REQUEST - head.len();
        let mut piece = vec![0u8; want.min(2048)];
        let n = stream.read(&mut piece).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&piece[..n]);
    }
}

/// Writes a short HTTP error answer and closes.
async fn refuse_http(stream: &mut Stream, status: u16, reason: &str) {
    let answer =
        format!("HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Accepts the WebSocket server side over `stream`, whose first octets
/// (`already`, maybe none) were read while telling it from MSRP. The
/// upgrade request is bounded in size ([`MAX_UPGRADE_REQUEST`]; longer is
/// answered 431), must be a GET (else 400 at once) and bounded in time (`settings.upgrade_timeout`); one without
/// `Sec-WebSocket-Protocol: msrp` is answered 400 (RFC 7977 §4.1), one from
/// an origin not allowed 403.
// The handshake callback's error type is tungstenite's HTTP response.
#[allow(clippy::result_large_err)]
pub async fn accept(
    mut stream: Stream,
    already: BytesMut,
    settings: &WsSettings,
    max_chunk: u64,
) -> Result<WsStream, WsHandshakeError> {
    let timeout = settings.upgrade_timeout.unwrap_or(DEFAULT_UPGRADE_TIMEOUT);
    let head = match tokio::time::timeout(timeout, read_request_head(&mut stream, already)).await {
        Ok(Ok(head)) => head,
        Ok(Err(e)) => {
            match e.kind() {
                io::ErrorKind::InvalidData => {
                    refuse_http(&mut stream, 431, "Request Header Fields Too Large").await
                }
                io::ErrorKind::InvalidInput => refuse_http(&mut stream, 400, "Bad Request").await,
                _ => {}
            }
            return Err(e.into());
        }
        Err(_) => {
            refuse_http(&mut stream, 408, "Request Timeout").await;
            return Err(WsHandshakeError::Refused(
                "upgrade request not complete in time".into(),
            ));
        }
    };
    let origins = settings.allowed_origins.clone();
    let mut resource = String::new();
    let path = &mut resource;
    let callback = move |request: &Request, mut response: Response| {
        *path = request.uri().to_string();
        let refuse = |status: StatusCode, text: &str| {
            let mut r = ErrorResponse::new(Some(text.to_string()));
            *r.status_mut() = status;
            r
        };
        if !header_has_token(request.headers(), "Sec-WebSocket-Protocol", SUBPROTOCOL) {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "the msrp subprotocol is required (RFC 7977)",
            ));
        }
        if let Some(allowed) = &origins {
            let origin = request
                .headers()
                .get("Origin")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
                return Err(refuse(StatusCode::FORBIDDEN, "origin not allowed"));
            }
        }
        response.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
        Ok(response)
    };
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(
        Rewind::new(head.freeze(), stream),
        callback,
        Some(ws_config(max_chunk)),
    );
    let ws = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| WsHandshakeError::Refused("upgrade not complete in time".into()))?
        .map_err(handshake_error)?;
    Ok(WsStream::new(ws, resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = ChunkSplitter::default();
        let mut done = VecDeque::new();
        for piece in input {
            s.push(piece, &mut done);
        }
        assert!(s.current.is_empty(), "left: {:?}", s.current);
        done.into_iter().collect()
    }

    const A: &[u8] = b"MSRP a1 SEND\r\nTo-Path: msrp://h:1/x;ws\r\nFrom-Path: msrp://h:2/y;ws\r\nMessage-ID: m\r\nByte-Range: 1-5/5\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------a1$\r\n";
    const B: &[u8] = b"MSRP b2 200 OK\r\nTo-Path: msrp://h:2/y;ws\r\nFrom-Path: msrp://h:1/x;ws\r\n-------b2$\r\n";

    #[test]
    fn one_message_per_chunk_however_written() {
        let both: Vec<u8> = [A, B].concat();
        assert_eq!(split(&[&both]), vec![A.to_vec(), B.to_vec()]);
        // Octet by octet.
        let bytes: Vec<&[u8]> = both.chunks(1).collect();
        assert_eq!(split(&bytes), vec![A.to_vec(), B.to_vec()]);
        // Cut inside the end-line.
        let cut = A.len() - 4;
        assert_eq!(split(&[&A[..cut], &A[cut..]]), vec![A.to_vec()]);
    }

    #[test]
    fn payload_looking_like_another_end_line_does_not_cut() {
        let c = b"MSRP a1 SEND\r\nByte-Range: 1-15/15\r\n\r\n-------a2$\r\nxxx\r\n-------a1+\r\n";
        assert_eq!(split(&[c]), vec![c.to_vec()]);
        let d = b"MSRP a1 SEND\r\n\r\n-------a1x\r\n-------a1#\r\n";
        assert_eq!(split(&[d]), vec![d.to_vec()]);
    }
}

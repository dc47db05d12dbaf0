//! Logging: python-msrplib's logger object (chunk start/data/end sent and received,
//! debug..fatal), and the default logger that writes to stderr at the level
//! named by the `MSRP_LOG` environment variable (error, warn, info, debug,
//! trace; default warn).

use std::sync::{Arc, OnceLock};

use crate::protocol::Chunk;

/// Log levels, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Fatal = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Fatal => "fatal",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }

    /// Parses a level name as `MSRP_LOG` spells it (case-insensitive).
    pub fn parse(text: &str) -> Option<Level> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "fatal" => Level::Fatal,
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            "trace" => Level::Trace,
            _ => return None,
        })
    }
}

/// Which connection a wire event happened on, for loggers.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionInfo<'a> {
    /// A process-unique number for the connection.
    pub id: u64,
    /// The local URI of the session on it, when bound.
    pub local: &'a str,
    /// The peer's socket address.
    pub peer: &'a str,
}

/// Receives the library's log events. Every method has a default that does
/// nothing, so an implementation overrides what it wants. Methods are called
/// from runtime threads and must be quick and must not block.
pub trait Logger: Send + Sync {
    /// The most verbose level this logger wants; events above it are not built.
    fn max_level(&self) -> Level {
        Level::Warn
    }
    /// Whether the wire hooks (`*_chunk_*`) are wanted at all.
    fn wants_wire(&self) -> bool {
        false
    }
    fn received_new_chunk(&self, _data: &[u8], _conn: ConnectionInfo<'_>, _chunk: &Chunk) {}
    fn received_chunk_data(&self, _data: &[u8], _conn: ConnectionInfo<'_>, _transaction_id: &str) {}
    fn received_chunk_end(&self, _data: &[u8], _conn: ConnectionInfo<'_>, _transaction_id: &str) {}
    fn sent_new_chunk(&self, _data: &[u8], _conn: ConnectionInfo<'_>, _chunk: &Chunk) {}
    fn sent_chunk_data(&self, _data: &[u8], _conn: ConnectionInfo<'_>, _transaction_id: &str) {}
    fn sent_chunk_end(&self, _data: &[u8], _conn: ConnectionInfo<'_>, _transaction_id: &str) {}
    /// A text message at `level`.
    fn log(&self, _level: Level, _message: &str) {}
}

impl std::fmt::Debug for dyn Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Logger(max_level={:?})", self.max_level())
    }
}

/// Shared handle to a logger.
pub type SharedLogger = Arc<dyn Logger>;

/// Writes to stderr: text at or above the `MSRP_LOG` level, and wire traces
/// (chunk heads) at `trace`.
#[derive(Debug)]
pub struct StderrLogger {
    level: Level,
}

impl StderrLogger {
    pub fn new(level: Level) -> StderrLogger {
        StderrLogger { level }
    }

    /// The level from `MSRP_LOG`, warn when unset or unknown.
    pub fn from_env() -> StderrLogger {
        let level = std::env::var("MSRP_LOG")
            .ok()
            .and_then(|v| Level::parse(&v))
            .unwrap_or(Level::Warn);
        StderrLogger { level }
    }
}

impl Logger for StderrLogger {
    fn max_level(&self) -> Level {
        self.level
    }
    fn wants_wire(&self) -> bool {
        self.level >= Level::Trace
    }
    fn received_new_chunk(&self, data: &[u8], conn: ConnectionInfo<'_>, _chunk: &Chunk) {
        eprintln!(
            "msrp trace: [{} {}] received:\n{}",
            conn.id,
            conn.peer,
            String::from_utf8_lossy(data).trim_end()
        );
    }
    fn sent_new_chunk(&self, data: &[u8], conn: ConnectionInfo<'_>, _chunk: &Chunk) {
        eprintln!(
            "msrp trace: [{} {}] sent:\n{}",
            conn.id,
            conn.peer,
            String::from_utf8_lossy(data).trim_end()
        );
    }
    fn log(&self, level: Level, message: &str) {
        if level <= self.level {
            eprintln!("msrp {}: {}", level.as_str(), message);
        }
    }
}

static DEFAULT: OnceLock<SharedLogger> = OnceLock::new();

/// The process default logger (stderr at `MSRP_LOG`), used where none is given.
pub fn default_logger() -> SharedLogger {
    DEFAULT
        .get_or_init(|| Arc::new(StderrLogger::from_env()))
        .clone()
}

/// Logs through `logger` only when `level` is enabled, building the text lazily.
#[macro_export]
#[doc(hidden)]
macro_rules! msrp_log {
    ($logger:expr, $level:expr, $($arg:tt)*) => {{
        let l: &dyn $crate::log::Logger = &*$logger;
        if $level <= l.max_level() {
            l.log($level, &format!($($arg)*));
        }
    }};
}

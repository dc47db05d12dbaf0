//! The library's runtime: one multi-thread Tokio runtime for the process,
//! started on first use, and a small pool of dispatcher threads on which C
//! callbacks run.
//!
//! * Blocking entry points ([`block_on`]) spawn their work on the runtime and
//!   wait on the caller's thread; they refuse (`MSRP_RESULT_WOULD_DEADLOCK`)
//!   on a runtime thread or inside a callback.
//! * Callbacks never run on runtime workers. A handle with callbacks owns a
//!   [`CallbackGate`]; its events are forwarded by one Tokio task per handle
//!   that hands them to the dispatcher pool (those waiting, as one job) and
//!   waits for the job to finish before the next ([`dispatch`]), so the
//!   callbacks of one handle never overlap and 10,000 sessions cost 10,000
//!   small tasks, not threads.
//! * Closing a gate (every `*_free`) waits until the handle's callback in
//!   flight has returned; no callback of it starts afterwards. Closed from
//!   inside that handle's own callback, it returns at once and the release
//!   runs when the callback returns.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};
use tokio::sync::oneshot;

use super::result::{
    fail, Result, MSRP_RESULT_CANCELLED, MSRP_RESULT_INVALID_ARGUMENT, MSRP_RESULT_INVALID_STATE,
    MSRP_RESULT_RUNTIME, MSRP_RESULT_WOULD_DEADLOCK,
};
use super::result::{msrp_result_t, panic_message};

/// Worker threads when neither `msrp_library_init` nor `MSRP_THREADS` says.
const DEFAULT_THREADS: usize = 2;
/// How long `msrp_library_shutdown` lets runtime tasks wind down.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

type Job = Box<dyn FnOnce() + Send>;

/// The running library: the runtime and the dispatcher pool.
struct Running {
    runtime: Runtime,
    pool: Arc<Pool>,
    threads: Vec<JoinHandle<()>>,
}

#[derive(Default)]
struct Library {
    /// Worker count set by `msrp_library_init` for the next start.
    threads: Option<usize>,
    running: Option<Running>,
}

static LIBRARY: Mutex<Library> = Mutex::new(Library {
    threads: None,
    running: None,
});

fn library() -> MutexGuard<'static, Library> {
    lock(&LIBRARY)
}

/// Locks a mutex; a panic in another holder (caught at the boundary) does not
/// make the state unusable, so poisoning is ignored.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The dispatcher pool's queue.
struct Pool {
    queue: Mutex<PoolQueue>,
    ready: Condvar,
}

struct PoolQueue {
    jobs: VecDeque<Job>,
    stopping: bool,
}

impl Pool {
    fn submit(&self, job: Job) -> std::result::Result<(), Job> {
        let mut q = lock(&self.queue);
        if q.stopping {
            return Err(job);
        }
        q.jobs.push_back(job);
        self.ready.notify_one();
        Ok(())
    }

    fn worker(&self) {
        loop {
            let job = {
                let mut q = lock(&self.queue);
                loop {
                    if let Some(j) = q.jobs.pop_front() {
                        break j;
                    }
                    if q.stopping {
                        return;
                    }
                    q = self.ready.wait(q).unwrap_or_else(|p| p.into_inner());
                }
            };
            // A panic in a job must not kill the dispatcher thread.
            if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)) {
                eprintln!("libmsrp: panic in a callback job: {}", panic_message(&*p));
            }
        }
    }
}

fn threads_from_env() -> Option<usize> {
    std::env::var("MSRP_THREADS")
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&n| n > 0)
}

fn start(lib: &mut Library) -> Result<&Running> {
    if lib.running.is_none() {
        let threads = lib
            .threads
            .or_else(threads_from_env)
            .unwrap_or(DEFAULT_THREADS);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("msrp-runtime")
            .enable_all()
            .build()
            .map_err(|e| {
                super::result::Error::new(
                    MSRP_RESULT_RUNTIME,
                    format!("cannot start the runtime: {e}"),
                )
            })?;
        let pool = Arc::new(Pool {
            queue: Mutex::new(PoolQueue {
                jobs: VecDeque::new(),
                stopping: false,
            }),
            ready: Condvar::new(),
        });
        let mut handles = Vec::new();
        for i in 0..threads {
            let p = pool.clone();
            let h = std::thread::Builder::new()
                .name(format!("msrp-dispatch-{i}"))
                .spawn(move || p.worker())
                .map_err(|e| {
                    super::result::Error::new(
                        MSRP_RESULT_RUNTIME,
                        format!("cannot start a dispatcher thread: {e}"),
                    )
                })?;
            handles.push(h);
        }
        lib.running = Some(Running {
            runtime,
            pool,
            threads: handles,
        });
    }
    Ok(lib.running.as_ref().expect("started above"))
}

/// The runtime's handle, starting the library if needed.
pub(crate) fn handle() -> Result<Handle> {
    let mut lib = library();
    Ok(start(&mut lib)?.runtime.handle().clone())
}

fn pool() -> Result<Arc<Pool>> {
    let mut lib = library();
    Ok(start(&mut lib)?.pool.clone())
}

/// Spawns a task on the runtime.
pub(crate) fn spawn<F>(fut: F) -> Result<tokio::task::JoinHandle<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Ok(handle()?.spawn(fut))
}

/// Spawns a task if the library is running; otherwise drops it (for clean-up
/// work after `msrp_library_shutdown`, which must not start a new runtime).
pub(crate) fn spawn_if_running<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    if let Some(r) = &library().running {
        r.runtime.spawn(fut);
    }
}

/// Sets the number of runtime worker threads (and of dispatcher threads) for
/// the library, and starts it. `threads` 0 means the default: the environment
/// variable `MSRP_THREADS`, else 2.
///
/// Optional: every function starts the library on first use. Returns
/// `MSRP_RESULT_INVALID_STATE` if the library is already running with another
/// thread count (call `msrp_library_shutdown` first). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_library_init(threads: u32) -> msrp_result_t {
    ffi_boundary! { result:
        if threads > 1024 {
            return fail(MSRP_RESULT_INVALID_ARGUMENT, format!("{threads} threads is more than 1024"));
        }
        let mut lib = library();
        let wanted = (threads > 0).then_some(threads as usize);
        if let Some(r) = &lib.running {
            let have = r.threads.len();
            let want = wanted.or_else(threads_from_env).unwrap_or(DEFAULT_THREADS);
            if have != want {
                return fail(MSRP_RESULT_INVALID_STATE, format!("the library is already running with {have} threads"));
            }
            return Ok(());
        }
        lib.threads = wanted;
        start(&mut lib).map(|_| ())
    }
}

/// Stops the library: shuts the runtime down (tasks get up to 5 seconds to
/// end), stops the dispatcher threads and waits for them. Free every handle
/// first: a handle used after this fails with `MSRP_RESULT_RUNTIME` or
/// `MSRP_RESULT_CLOSED`, and the next call that needs the runtime starts a
/// new one.
///
/// Blocking: returns `MSRP_RESULT_WOULD_DEADLOCK` (doing nothing) when called
/// from inside a callback or from a runtime thread. Call it from one thread,
/// typically last thing in `main` (it lets leak checkers see a clean exit).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_library_shutdown() -> msrp_result_t {
    ffi_boundary! { result:
        check_may_block()?;
        let running = library().running.take();
        let Some(Running { runtime, pool, threads }) = running else { return Ok(()) };
        // Dropping a runtime must not happen inside async code; a plain
        // thread is always safe.
        let rt = std::thread::spawn(move || runtime.shutdown_timeout(SHUTDOWN_TIMEOUT));
        let _ = rt.join();
        {
            let mut q = lock(&pool.queue);
            q.stopping = true;
            pool.ready.notify_all();
        }
        for t in threads {
            let _ = t.join();
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Where the current thread is
// ---------------------------------------------------------------------------

thread_local! {
    /// Ids of the handles whose callbacks are running on this thread
    /// (innermost last); a logger hook pushes 0.
    static IN_CALLBACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Marks the current thread as running a callback of handle `id` while alive.
pub(crate) struct CallbackScope(());

impl CallbackScope {
    pub fn enter(id: u64) -> CallbackScope {
        IN_CALLBACK.with(|c| c.borrow_mut().push(id));
        CallbackScope(())
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        IN_CALLBACK.with(|c| {
            c.borrow_mut().pop();
        });
    }
}

fn in_any_callback() -> bool {
    IN_CALLBACK.with(|c| !c.borrow().is_empty())
}

fn in_callback_of(id: u64) -> bool {
    IN_CALLBACK.with(|c| c.borrow().contains(&id))
}

/// Fails with `MSRP_RESULT_WOULD_DEADLOCK` where waiting is not allowed: in a
/// callback, or on a thread that runs the runtime.
pub(crate) fn check_may_block() -> Result<()> {
    if in_any_callback() {
        return fail(
            MSRP_RESULT_WOULD_DEADLOCK,
            "a blocking function was called from inside a libmsrp callback",
        );
    }
    if Handle::try_current().is_ok() {
        return fail(
            MSRP_RESULT_WOULD_DEADLOCK,
            "a blocking function was called from a thread that runs an async runtime",
        );
    }
    Ok(())
}

/// Runs `fut` on the runtime and waits for its output on this thread.
pub(crate) fn block_on<F>(fut: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    check_may_block()?;
    let (tx, rx) = oneshot::channel();
    spawn(async move {
        let _ = tx.send(fut.await);
    })?;
    rx.blocking_recv().or_else(|_| {
        fail(
            MSRP_RESULT_CANCELLED,
            "the library was shut down during the call",
        )
    })
}

/// Converts a timeout in milliseconds (0: the library default) for the core.
pub(crate) fn duration_from_ms(ms: u32) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms.into()))
}

// ---------------------------------------------------------------------------
// Callback gates and per-handle dispatch
// ---------------------------------------------------------------------------

static NEXT_GATE_ID: AtomicU64 = AtomicU64::new(1);

type Release = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct GateState {
    in_flight: bool,
    closed: bool,
    /// Set when the gate was closed from inside its own callback.
    deferred: Option<Release>,
}

/// Guards the callbacks of one handle: they run one at a time, never after
/// the gate is closed, and closing waits for the one in flight.
pub(crate) struct CallbackGate {
    id: u64,
    state: Mutex<GateState>,
    idle: Condvar,
}

impl CallbackGate {
    pub fn new() -> Arc<CallbackGate> {
        Arc::new(CallbackGate {
            id: NEXT_GATE_ID.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(GateState::default()),
            idle: Condvar::new(),
        })
    }

    /// Runs `f` as a callback of this handle on the current thread, unless
    /// the gate is closed. Returns whether it ran.
    pub fn run(&self, f: impl FnOnce()) -> bool {
        {
            let mut s = lock(&self.state);
            if s.closed {
                return false;
            }
            s.in_flight = true;
        }
        {
            let _scope = CallbackScope::enter(self.id);
            if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                eprintln!("libmsrp: panic in a callback: {}", panic_message(&*p));
            }
        }
        let deferred = {
            let mut s = lock(&self.state);
            s.in_flight = false;
            self.idle.notify_all();
            s.deferred.take()
        };
        if let Some(release) = deferred {
            release();
        }
        true
    }

    /// Closes the gate and runs `release` once no callback of it is running:
    /// now (after waiting for the one in flight), or, when called from inside
    /// this handle's own callback, right after that callback returns.
    pub fn close(&self, release: impl FnOnce() + Send + 'static) {
        let mut s = lock(&self.state);
        s.closed = true;
        if in_callback_of(self.id) {
            s.deferred = Some(Box::new(release));
            return;
        }
        while s.in_flight {
            s = self.idle.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        drop(s);
        release();
    }

    /// Whether the calling thread is inside this handle's callback.
    pub fn is_current(&self) -> bool {
        in_callback_of(self.id)
    }
}

/// Hands `job` to a dispatcher thread; resolves when it has run (or was
/// dropped because the library is shutting down).
pub(crate) async fn dispatch(job: impl FnOnce() + Send + 'static) {
    let (tx, rx) = oneshot::channel::<()>();
    let job: Job = Box::new(move || {
        job();
        let _ = tx.send(());
    });
    let Ok(pool) = pool() else { return };
    if pool.submit(job).is_ok() {
        let _ = rx.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn close_inside_own_callback_defers_the_release() {
        let gate = CallbackGate::new();
        let released = Arc::new(AtomicBool::new(false));
        let (g, r) = (gate.clone(), released.clone());
        assert!(gate.run(move || {
            let r2 = r.clone();
            g.close(move || r2.store(true, Ordering::SeqCst));
            assert!(
                !r.load(Ordering::SeqCst),
                "released while its callback still runs"
            );
        }));
        assert!(
            released.load(Ordering::SeqCst),
            "released once the callback returned"
        );
        assert!(!gate.run(|| panic!("no callback after close")));
    }

    #[test]
    fn close_from_another_thread_waits_for_the_callback_in_flight() {
        let gate = CallbackGate::new();
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let finished = Arc::new(AtomicBool::new(false));
        let (g, f) = (gate.clone(), finished.clone());
        let t = std::thread::spawn(move || {
            g.run(|| {
                entered_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(100));
                f.store(true, Ordering::SeqCst);
            })
        });
        entered_rx.recv().unwrap();
        let f = finished.clone();
        gate.close(move || {
            assert!(
                f.load(Ordering::SeqCst),
                "released before the callback returned"
            )
        });
        assert!(finished.load(Ordering::SeqCst));
        assert!(t.join().unwrap());
    }

    #[test]
    fn blocking_is_refused_inside_callbacks() {
        let _scope = CallbackScope::enter(7);
        assert_eq!(
            check_may_block().unwrap_err().code,
            MSRP_RESULT_WOULD_DEADLOCK
        );
    }
}

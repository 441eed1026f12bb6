//! The single writer connection, with group commit.
//!
//! SQLite allows one writer at a time, and with `synchronous = FULL` every `COMMIT` waits for
//! the disk. Committing each request's transaction on its own caps a shop at the disk's flush
//! rate, however small the transactions are. So writes are *jobs* run one after another inside
//! a shared transaction, each in its own savepoint:
//!
//! 1. a job takes the connection (a fair, first-come lock), opens the shared transaction with
//!    `BEGIN IMMEDIATE` if none is open, and runs its statements inside `SAVEPOINT kura_job`;
//! 2. on success it leaves its savepoint in place (the commit ends them all) and waits; on
//!    error, or when it decides not to keep its work (a sold-out checkout), it rolls back to
//!    its savepoint, the innermost of that name, undoing only itself;
//! 3. a committer task queues for the same lock behind the jobs already waiting, then commits
//!    everything done so far with one flush and wakes each waiting job.
//!
//! A job is answered only after the `COMMIT` that holds its work has returned, so an accepted
//! write is as durable as before; jobs that arrive together share one flush. If the shared
//! commit fails, every job in it is told to run again ([`WriteError::Retry`]); nothing of theirs
//! was kept. A job whose caller goes away mid-way leaves its savepoint behind, and whoever takes
//! the connection next rolls it back first. The steps that move the shared state (begin,
//! savepoint, roll back, commit) run in spawned tasks, so a caller that goes away
//! cannot stop one half-done and leave the flags disagreeing with the database.

use std::fmt;
use std::sync::Arc;

use sqlx::{Connection, SqliteConnection};
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};

/// Why a write did not happen.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// The database refused a statement (constraint, busy, I/O).
    Sql(sqlx::Error),
    /// The same, for a job run in one trip (see [`Writer::run_raw`]).
    Raw(rusqlite::Error),
    /// The shared transaction this job was in was rolled back; run the job again.
    Retry,
    /// The store was closed.
    Closed,
}

impl From<sqlx::Error> for WriteError {
    fn from(e: sqlx::Error) -> Self {
        Self::Sql(e)
    }
}

type Waiter = oneshot::Sender<Result<(), ()>>;

/// What the commit a job waited for says: kept, rolled back (run again), or never happened
/// because the store went away (the work is not known to be kept).
async fn committed(rx: oneshot::Receiver<Result<(), ()>>) -> Result<(), WriteError> {
    match rx.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(())) => Err(WriteError::Retry),
        Err(_) => Err(WriteError::Closed),
    }
}

pub(crate) struct State {
    /// The same connection seen through rusqlite, for jobs run in one trip
    /// ([`Writer::run_raw`]). It borrows `conn`'s handle and never closes it, and it is dropped
    /// first (field order here, and in [`Writer::close`]), finalizing its cached statements
    /// while the handle is still open.
    raw: Option<rusqlite::Connection>,
    conn: Option<SqliteConnection>,
    /// A shared `BEGIN IMMEDIATE` transaction is open.
    open: bool,
    /// A job went away inside its savepoint; roll it back before anything else.
    dirty: bool,
    /// Jobs whose work is in the open transaction, waiting for its commit.
    pending: Vec<Waiter>,
    /// Commits so far and jobs they carried (for the benchmark's report).
    commits: u64,
    jobs: u64,
    /// Jobs kept in the open transaction (the rest of `pending` were undone and only wait).
    kept: u64,
}

async fn exec(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(conn).await.map(|_| ())
}

impl State {
    pub(crate) fn conn(&mut self) -> Result<&mut SqliteConnection, WriteError> {
        self.conn.as_mut().ok_or(WriteError::Closed)
    }

    /// Undoes a job that went away mid-way.
    async fn settle(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let undone = match exec(conn, "ROLLBACK TO kura_job").await {
            Ok(()) => exec(conn, "RELEASE kura_job").await,
            Err(e) => Err(e),
        };
        if undone.is_err() {
            self.abort().await;
        }
    }

    /// Rolls the whole shared transaction back; its jobs are told to run again.
    async fn abort(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            // SQLite may already have rolled back by itself (disk full, I/O error).
            let _ = exec(conn, "ROLLBACK").await;
        }
        self.abandon();
    }

    /// After the shared transaction was rolled back: its jobs are told to run again.
    fn abandon(&mut self) {
        self.open = false;
        self.kept = 0;
        for waiter in self.pending.drain(..) {
            let _ = waiter.send(Err(()));
        }
        tracing::warn!(target: "kura::store", "a write batch was rolled back; its jobs run again");
    }

    /// Commits the shared transaction, if one is open, and answers its jobs.
    pub(crate) async fn flush(&mut self) {
        self.settle().await;
        if !self.open {
            return;
        }
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        match exec(conn, "COMMIT").await {
            Ok(()) => {
                self.open = false;
                self.commits += 1;
                self.jobs += self.kept;
                self.kept = 0;
                for waiter in self.pending.drain(..) {
                    let _ = waiter.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(target: "kura::store", error = %e, "commit failed");
                self.abort().await;
            }
        }
    }
}

/// The writer connection behind its lock, and the committer's wake-up line.
pub(crate) struct Writer {
    state: Arc<Mutex<State>>,
    wake: mpsc::Sender<()>,
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Takes the connection and starts the committer on the current runtime.
    pub(crate) fn start(conn: SqliteConnection) -> Self {
        let state = Arc::new(Mutex::new(State {
            raw: None,
            conn: Some(conn),
            open: false,
            dirty: false,
            pending: Vec::new(),
            commits: 0,
            jobs: 0,
            kept: 0,
        }));
        let (wake, mut woken) = mpsc::channel::<()>(1);
        let weak = Arc::downgrade(&state);
        tokio::spawn(async move {
            while woken.recv().await.is_some() {
                let Some(state) = weak.upgrade() else { break };
                // The lock is fair: this waits behind the jobs already queued, which then
                // share this commit.
                state.lock().await.flush().await;
            }
        });
        Self { state, wake }
    }

    /// Starts a job: the connection, inside the shared transaction, inside a fresh savepoint.
    pub(crate) async fn job(&self) -> Result<Job, WriteError> {
        let guard = Arc::clone(&self.state).lock_owned().await;
        let started = tokio::spawn(async move {
            let mut guard = guard;
            guard.settle().await;
            if !guard.open {
                exec(guard.conn()?, "BEGIN IMMEDIATE").await?;
                guard.open = true;
            }
            if let Err(e) = exec(guard.conn()?, "SAVEPOINT kura_job").await {
                guard.abort().await;
                return Err(WriteError::Sql(e));
            }
            guard.dirty = true;
            Ok(guard)
        })
        .await
        .map_err(|_| WriteError::Closed)??;
        Ok(Job {
            guard: Some(started),
            wake: self.wake.clone(),
        })
    }

    /// Runs `work` as one job in one trip to the connection's thread, where [`Writer::job`]
    /// makes a trip per statement. The handle is taken from sqlx's worker thread for the
    /// job's length (one message there and back), and the savepoint, the job's statements on
    /// rusqlite's prepared, cached statements and, when the job does not keep its work, the
    /// roll back to its savepoint all run here without an await between them, so a caller that
    /// goes away cannot leave the job half done. `work` answers its value and whether to keep
    /// the work; like any job, it is answered after the commit that holds it (or, undone, after
    /// the commit of what it saw). Only the shared `BEGIN` (once a batch) and the `COMMIT` go
    /// through sqlx. Keep `work` short and free of waiting: it runs on the caller's thread.
    pub(crate) async fn run_raw<T>(
        &self,
        work: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<(T, bool)>,
    ) -> Result<T, WriteError> {
        let guard = Arc::clone(&self.state).lock_owned().await;
        let mut guard = tokio::spawn(async move {
            let mut guard = guard;
            guard.settle().await;
            if !guard.open {
                exec(guard.conn()?, "BEGIN IMMEDIATE").await?;
                guard.open = true;
            }
            Ok::<_, WriteError>(guard)
        })
        .await
        .map_err(|_| WriteError::Closed)??;
        let state: &mut State = &mut guard;
        let conn = state.conn.as_mut().ok_or(WriteError::Closed)?;
        // Going away while waiting here changes nothing: no savepoint is open yet.
        let mut handle = conn.lock_handle().await?;
        if state.raw.is_none() {
            // SAFETY: the pointer is sqlx's open connection, which outlives `raw` (see the
            // field's comment); a `from_handle` connection never closes it; and `raw` is used
            // only while a `lock_handle` guard keeps sqlx's worker thread off the handle.
            #[allow(unsafe_code)]
            let raw = unsafe { rusqlite::Connection::from_handle(handle.as_raw_handle().as_ptr()) }
                .map_err(WriteError::Raw)?;
            state.raw = Some(raw);
        }
        let Some(raw) = state.raw.as_ref() else {
            return Err(WriteError::Closed);
        };
        let ran = match raw.execute_batch("SAVEPOINT kura_job") {
            Ok(()) => match work(raw) {
                Ok((value, true)) => Ok(Ok((value, true))),
                undone => match raw.execute_batch("ROLLBACK TO kura_job; RELEASE kura_job") {
                    Ok(()) => Ok(undone.map(|(value, _)| (value, false))),
                    Err(e) => Err(e),
                },
            },
            Err(e) => Err(e),
        };
        let outcome = match ran {
            Ok(outcome) => outcome,
            Err(e) => {
                // The transaction is in a state no job can account for: all of it goes.
                let _ = raw.execute_batch("ROLLBACK");
                drop(handle);
                state.abandon();
                return Err(WriteError::Raw(e));
            }
        };
        drop(handle);
        if outcome.as_ref().is_ok_and(|(_, keep)| *keep) {
            state.kept += 1;
        }
        let (tx, queued) = oneshot::channel();
        state.pending.push(tx);
        drop(guard);
        let _ = self.wake.try_send(());
        committed(queued).await?;
        outcome.map(|(value, _)| value).map_err(WriteError::Raw)
    }

    /// The connection alone, with everything before committed: for migrations, checkpoints
    /// and closing.
    pub(crate) async fn exclusive(&self) -> Result<OwnedMutexGuard<State>, WriteError> {
        let guard = Arc::clone(&self.state).lock_owned().await;
        tokio::spawn(async move {
            let mut guard = guard;
            guard.flush().await;
            guard
        })
        .await
        .map_err(|_| WriteError::Closed)
    }

    /// Commits what is pending and closes the connection; later writes get [`WriteError::Closed`].
    pub(crate) async fn close(&self) {
        if let Ok(mut guard) = self.exclusive().await
            && let Some(conn) = {
                drop(guard.raw.take());
                guard.conn.take()
            }
        {
            let _ = conn.close().await;
        }
    }

    /// (commits, jobs committed) since start.
    pub(crate) async fn counts(&self) -> (u64, u64) {
        let g = self.state.lock().await;
        (g.commits, g.jobs)
    }
}

/// One write job holding the connection. Finish it with [`Job::keep`] or [`Job::undo`];
/// dropping it mid-way leaves its savepoint to be rolled back by the next holder.
pub(crate) struct Job {
    guard: Option<OwnedMutexGuard<State>>,
    wake: mpsc::Sender<()>,
}

impl Job {
    pub(crate) fn conn(&mut self) -> Result<&mut SqliteConnection, WriteError> {
        match self.guard.as_mut() {
            Some(g) => g.conn(),
            None => Err(WriteError::Closed),
        }
    }

    /// Keeps the job's work and waits until a commit holds it.
    pub(crate) async fn keep(mut self) -> Result<(), WriteError> {
        let Some(guard) = self.guard.take() else {
            return Err(WriteError::Closed);
        };
        // The savepoint is not released: that would cost a round trip to the database thread
        // per job. Kept savepoints nest until the commit ends them all, and a later job's
        // `ROLLBACK TO kura_job` still finds its own, the innermost of that name. Nothing here
        // awaits, so a caller that goes away cannot leave this half done.
        let mut guard = guard;
        guard.dirty = false;
        guard.kept += 1;
        let (tx, queued) = oneshot::channel();
        guard.pending.push(tx);
        drop(guard);
        let _ = self.wake.try_send(());
        committed(queued).await
    }

    /// Undoes the job's work, leaving the rest of the shared transaction as it was, and waits
    /// for that transaction's commit: what the job saw (another job's order with the same
    /// idempotency key, a row it collided with) is only true once that is committed. If the
    /// commit fails, the job is told to run again.
    pub(crate) async fn undo(mut self) -> Result<(), WriteError> {
        let Some(guard) = self.guard.take() else {
            return Ok(());
        };
        let wake = self.wake.clone();
        let queued = tokio::spawn(async move {
            let mut guard = guard;
            // `settle` is exactly "roll back to the job's savepoint".
            guard.settle().await;
            let waiter = guard.open.then(|| {
                let (tx, rx) = oneshot::channel();
                guard.pending.push(tx);
                rx
            });
            drop(guard);
            let _ = wake.try_send(());
            waiter
        })
        .await
        .map_err(|_| WriteError::Closed)?;
        match queued {
            None => Ok(()),
            Some(rx) => committed(rx).await,
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if self.guard.take().is_some() {
            // Cancelled mid-way: the state stays dirty; make sure someone comes to settle it
            // and commit the others.
            let _ = self.wake.try_send(());
        }
    }
}

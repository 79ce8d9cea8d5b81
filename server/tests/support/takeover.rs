//! Two `foldline serve` processes on one database: how long the standby
//! takes to lead every projection when the leader dies or hangs. Shared by
//! the CLI tests (which hold it to a bound) and the takeover benchmark
//! (which reports it).

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sqlx::{Connection, PgConnection};

/// A running `foldline serve`, killed when dropped: a test that fails half
/// way leaves no process behind (nor one stopped with SIGSTOP holding the
/// test run's output open).
pub struct Service(Child);

impl Service {
    /// Its process id.
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.0.id() as i32)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = kill(self.pid(), Signal::SIGCONT);
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `foldline serve` on `url`, listening on a free port.
pub fn serve(url: &str) -> Service {
    let child = Command::new(env!("CARGO_BIN_EXE_foldline"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", url)
        .env("FOLDLINE_JWT_SECRET", "takeover")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run foldline serve");
    Service(child)
}

/// The sessions of `url`'s database that hold a projection lock.
pub async fn leaders(url: &str) -> BTreeSet<i32> {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let pids: Vec<i32> = sqlx::query_scalar(
        "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()",
    )
    .fetch_all(&mut conn)
    .await
    .expect("read the locks");
    conn.close().await.ok();
    pids.into_iter().collect()
}

/// Waits until every projection and workflow is led by a session not in
/// `former`;
/// returns those sessions, or `None` after `limit`.
pub async fn led_by_others(
    url: &str,
    former: &BTreeSet<i32>,
    limit: Duration,
) -> Option<BTreeSet<i32>> {
    let started = Instant::now();
    loop {
        let now = leaders(url).await;
        // Each projection and each workflow has its worker.
        let workers = foldline_projectors::all().len() + foldline_workflows::all().len();
        if now.len() == workers && now.is_disjoint(former) {
            return Some(now);
        }
        if started.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How the leader fails.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// SIGKILL: its sessions end with it.
    Dies,
    /// SIGSTOP: its connections stay open, nothing is sent on them.
    Hangs,
}

/// Starts a leader and a standby on `url`, fails the leader, and returns
/// how long until the standby led every projection (`None` past `limit`),
/// with both processes (the leader continued, if it hung).
pub async fn takeover(
    url: &str,
    failure: Failure,
    limit: Duration,
) -> (Option<Duration>, Service, Service) {
    let leader = serve(url);
    let before = led_by_others(url, &BTreeSet::new(), Duration::from_secs(60))
        .await
        .expect("the first service leads every projection");
    let standby = serve(url);
    // The standby is up when it has connected and is asking for the locks.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = leader.pid();
    let signal = match failure {
        Failure::Dies => Signal::SIGKILL,
        Failure::Hangs => Signal::SIGSTOP,
    };
    kill(pid, signal).expect("signal the leader");
    let failed_at = Instant::now();
    let took = led_by_others(url, &before, limit)
        .await
        .map(|_| failed_at.elapsed());
    if let Failure::Hangs = failure {
        kill(pid, Signal::SIGCONT).expect("continue the leader");
    }
    (took, leader, standby)
}

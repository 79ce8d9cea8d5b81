//! A PostgreSQL cluster of foldline's own, for machines where none answers:
//! `initdb` once under the data folder, then `pg_ctl start` on a free port.
//!
//! PostgreSQL refuses to run as root, so when foldline runs as root the
//! cluster is created and started as the `postgres` user (or `nobody`).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Uid, User};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

/// The superuser of clusters foldline creates (trust authentication, loopback only).
pub const CLUSTER_USER: &str = "foldline";

/// Why a cluster could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Neither PATH nor /usr/lib/postgresql has the server programs.
    #[error("initdb and pg_ctl were not found on PATH or under /usr/lib/postgresql/*/bin")]
    NoBinaries,
    /// Running as root, and no unprivileged user exists to run PostgreSQL as.
    #[error("running as root and neither the postgres nor the nobody user exists")]
    NoUnprivilegedUser,
    /// A file-system step failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A PostgreSQL program failed.
    #[error("{program} failed: {stderr}")]
    Program {
        /// Which program.
        program: String,
        /// What it printed.
        stderr: String,
    },
}

/// The server programs of one PostgreSQL installation.
#[derive(Debug, Clone)]
pub struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// Finds `initdb` and `pg_ctl` on PATH, else under the newest
    /// `/usr/lib/postgresql/*/bin`.
    pub fn find() -> Option<Binaries> {
        let on_path = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .unwrap_or_default();
        let mut installed: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|dirs| dirs.flatten().map(|d| d.path().join("bin")).collect())
            .unwrap_or_default();
        // Newest major version first.
        installed.sort_by_key(|dir| {
            std::cmp::Reverse(
                dir.parent()
                    .and_then(|v| v.file_name())
                    .and_then(|v| v.to_str())
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(0),
            )
        });
        on_path
            .into_iter()
            .chain(installed)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
            .map(|dir| {
                // A PATH entry may be a link into the real installation.
                let dir = std::fs::canonicalize(dir.join("pg_ctl"))
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                    .unwrap_or(dir);
                Binaries { dir }
            })
    }

    fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Who PostgreSQL runs as: ourselves, or an unprivileged user when we are root.
fn run_as() -> Result<Option<User>, ClusterError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Ok(Some(user)) = User::from_name(name) {
            return Ok(Some(user));
        }
    }
    Err(ClusterError::NoUnprivilegedUser)
}

fn run(mut command: Command, user: Option<&User>) -> Result<Output, ClusterError> {
    let program = command.get_program().to_string_lossy().into_owned();
    if let Some(user) = user {
        command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        // Do not inherit root's home: tools read ~/.psqlrc and friends.
        command.env("HOME", "/tmp");
    }
    let output = command.output().map_err(|source| ClusterError::Io {
        action: "cannot run",
        path: PathBuf::from(&program),
        source,
    })?;
    Ok(output)
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ClusterError {
    let path = path.to_path_buf();
    move |source| ClusterError::Io {
        action,
        path,
        source,
    }
}

/// The cluster under `data_dir`: its data folder, port file and log.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    binaries: Binaries,
    root: PathBuf,
}

impl LocalCluster {
    /// The cluster that lives (or will live) under `data_dir`.
    pub fn new(data_dir: &Path) -> Result<LocalCluster, ClusterError> {
        let binaries = Binaries::find().ok_or(ClusterError::NoBinaries)?;
        std::fs::create_dir_all(data_dir).map_err(io("cannot create", data_dir))?;
        let root = std::fs::canonicalize(data_dir).map_err(io("cannot resolve", data_dir))?;
        Ok(LocalCluster { binaries, root })
    }

    fn pgdata(&self) -> PathBuf {
        self.root.join("pgdata")
    }

    fn port_file(&self) -> PathBuf {
        self.root.join("port")
    }

    /// Holds an exclusive lock on the cluster's folder, so that concurrent
    /// processes (parallel tests, two binaries) do not init or start it twice.
    fn lock(&self) -> Result<Flock<std::fs::File>, ClusterError> {
        let path = self.root.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("cannot open", &path))?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| ClusterError::Io {
            action: "cannot lock",
            path,
            source: errno.into(),
        })
    }

    /// Creates the cluster if needed and starts it if it is not running.
    pub fn start(&self) -> Result<PgConnectOptions, ClusterError> {
        let _lock = self.lock()?;
        let user = run_as()?;
        let pgdata = self.pgdata();
        if !pgdata.join("PG_VERSION").is_file() {
            self.init(user.as_ref())?;
        }
        let port = self.port()?;
        if !self.is_running(user.as_ref())? {
            let mut start = Command::new(self.binaries.program("pg_ctl"));
            start
                .arg("start")
                .arg("--wait")
                .arg("--silent")
                .arg("-D")
                .arg(&pgdata)
                .arg("-l")
                .arg(pgdata.join("server.log"))
                .arg("-o")
                .arg(format!(
                    "-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories=''"
                ));
            let output = run(start, user.as_ref())?;
            if !output.status.success() {
                let log = std::fs::read_to_string(pgdata.join("server.log")).unwrap_or_default();
                return Err(ClusterError::Program {
                    program: "pg_ctl start".into(),
                    stderr: format!(
                        "{}{}",
                        String::from_utf8_lossy(&output.stderr),
                        log.lines().rev().take(5).collect::<Vec<_>>().join("\n")
                    ),
                });
            }
            tracing::info!(data = %pgdata.display(), port, "started a local PostgreSQL cluster");
        }
        Ok(PgConnectOptions::new_without_pgpass()
            .host("127.0.0.1")
            .port(port)
            .username(CLUSTER_USER)
            .database("postgres")
            .ssl_mode(PgSslMode::Disable))
    }

    /// Stops the cluster if it runs.
    pub fn stop(&self) -> Result<(), ClusterError> {
        let _lock = self.lock()?;
        let user = run_as()?;
        if self.is_running(user.as_ref())? {
            let mut stop = Command::new(self.binaries.program("pg_ctl"));
            stop.args(["stop", "--wait", "--silent", "-m", "fast", "-D"])
                .arg(self.pgdata());
            let output = run(stop, user.as_ref())?;
            if !output.status.success() {
                return Err(ClusterError::Program {
                    program: "pg_ctl stop".into(),
                    stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
                });
            }
        }
        Ok(())
    }

    fn init(&self, user: Option<&User>) -> Result<(), ClusterError> {
        let pgdata = self.pgdata();
        std::fs::create_dir_all(&pgdata).map_err(io("cannot create", &pgdata))?;
        if let Some(user) = user {
            nix::unistd::chown(&pgdata, Some(user.uid), Some(user.gid)).map_err(|errno| {
                ClusterError::Io {
                    action: "cannot hand over",
                    path: pgdata.clone(),
                    source: errno.into(),
                }
            })?;
        }
        let mut initdb = Command::new(self.binaries.program("initdb"));
        initdb.arg("-D").arg(&pgdata).args([
            "-U",
            CLUSTER_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-instructions",
        ]);
        let output = run(initdb, user)?;
        if !output.status.success() {
            return Err(ClusterError::Program {
                program: "initdb".into(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        Ok(())
    }

    fn is_running(&self, user: Option<&User>) -> Result<bool, ClusterError> {
        let mut status = Command::new(self.binaries.program("pg_ctl"));
        status.arg("status").arg("-D").arg(self.pgdata());
        Ok(run(status, user)?.status.success())
    }

    /// The cluster's port: the one it was given first, or a free one.
    fn port(&self) -> Result<u16, ClusterError> {
        let file = self.port_file();
        if let Some(port) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            return Ok(port);
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(io("cannot find a free port for", &file))?
            .port();
        std::fs::write(&file, port.to_string()).map_err(io("cannot write", &file))?;
        Ok(port)
    }
}

/// Starts (creating if needed) the cluster under `data_dir`, off the async runtime.
pub async fn ensure_running(data_dir: &Path) -> Result<PgConnectOptions, ClusterError> {
    let data_dir = data_dir.to_path_buf();
    tokio::task::spawn_blocking(move || LocalCluster::new(&data_dir)?.start())
        .await
        .unwrap_or_else(|join| {
            Err(ClusterError::Program {
                program: "cluster start-up".into(),
                stderr: join.to_string(),
            })
        })
}

//! The HTTP listener, with the limits a server facing unknown clients needs:
//! a deadline for each request's headers (which also closes idle
//! keep-alive connections), a cap on open connections below the file
//! limit, and a graceful shutdown. Bodies have their own deadline where
//! they are read (`http::ingest::read_body_limited`).
//!
//! axum's `serve` sets no timer on its HTTP/1 connections, so a client
//! sending one header line every few seconds, or nothing at all, kept a
//! connection (and a file descriptor) forever.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// The listener's limits (`sealtrail serve` flags and `SEALTRAIL_*`).
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// `SEALTRAIL_HEADER_TIMEOUT` (10 s): a request's headers must arrive
    /// within this, counted from when the connection is ready for them; an
    /// idle keep-alive connection is closed after it too.
    pub header_timeout: Duration,
    /// `SEALTRAIL_MAX_HTTP_CONNECTIONS` (1,024, and at most the file limit
    /// less 64): connections open at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// Raises the soft limit of open files to the hard one, and returns the
/// connection cap that leaves room under it (for the pool, logs, spool).
pub fn fit_connections(wanted: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit write/read the struct we own.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            if lim.rlim_cur < lim.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    lim.rlim_cur = lim.rlim_max;
                }
            }
            lim.rlim_cur
        } else {
            1024
        }
    };
    let room = usize::try_from(soft)
        .unwrap_or(usize::MAX)
        .saturating_sub(64);
    wanted.min(room).max(1)
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting and lets the requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of file descriptors, or the peer went away: wait
                    // a moment rather than spin.
                    tracing::warn!(target: "sealtrail::http", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let svc = TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            // HTTP/1 only: its header deadline runs from the first byte
            // awaited (an HTTP/2 sniffing stage would wait without one).
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::trace!(target: "sealtrail::http", error = %e, "connection ended");
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(permit);
        });
    }
    // Stop: every connection finishes its request in flight and closes.
    let _ = stop_tx.send(true);
    drop(stop_rx);
    let _ = slots
        .acquire_many(limits.max_connections as u32)
        .await
        .map(|p| p.forget());
    Ok(())
}

//! The listener's limits against raw sockets on loopback: slow headers,
//! silent connections, idle keep-alive, a body sent a byte at a time, and
//! more connections than the cap. Each used to hold a connection (and a file
//! descriptor) forever; the bounds asserted are generous multiples of the
//! limits configured here.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sealtrail_server::auth::Role;
use sealtrail_server::serve::{serve, HttpLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(t: &TestDb, max_connections: usize) -> std::net::SocketAddr {
    sealtrail_server::http::ingest::BODY_TIMEOUT_MS
        .store(1000, std::sync::atomic::Ordering::Relaxed);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = t.app();
    let limits = HttpLimits {
        header_timeout: Duration::from_secs(1),
        max_connections,
    };
    tokio::spawn(async move {
        serve(listener, app, limits, std::future::pending())
            .await
            .unwrap()
    });
    addr
}

/// Reads until the server closes the connection (or `within` passes).
async fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn slow_silent_and_idle_connections_are_closed() {
    let t = TestDb::new().await;
    let addr = start(&t, 64).await;

    // Headers a line every 300 ms: closed long before 30 lines (9 s).
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut sent = 0;
    while sent < 30 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if s.write_all(b"X-Slow: 1\r\n").await.is_err() {
            break;
        }
        sent += 1;
    }
    let r = closed_within(&mut s, Duration::from_secs(5)).await;
    assert!(
        r.is_some(),
        "slow headers kept the connection ({sent} lines)"
    );
    assert!(started.elapsed() < Duration::from_secs(14));

    // Silent: closed without a byte sent.
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert!(closed_within(&mut s, Duration::from_secs(10))
        .await
        .is_some());

    // Keep-alive, answered, then idle: closed.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let got = closed_within(&mut s, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_is_cut_off() {
    let t = TestDb::new().await;
    let key = t.key("acme", Role::Ingest).await;
    let addr = start(&t, 64).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let writer = tokio::spawn(async move {
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if s.write_all(b" ").await.is_err() {
                break;
            }
        }
        s
    });
    let mut s = writer.await.unwrap();
    let got = closed_within(&mut s, Duration::from_secs(5))
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"timeout\""), "{text}");
}

#[tokio::test]
async fn more_connections_than_the_cap_wait_and_are_served() {
    let t = TestDb::new().await;
    let addr = start(&t, 4).await;
    // Four silent sockets hold every slot, until their header deadline.
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let got = closed_within(&mut s, Duration::from_secs(15))
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
}

//! The server's CPU per event before the database: splitting a batch body,
//! parsing and validating each event, its canonical form and content hash,
//! and its search words. One thread, no database, so the figure holds still
//! while other work shares the machine (the ingest benchmark's per-event
//! server CPU moves with it).
//!
//! cargo bench -p sealtrail-server --bench validate

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use sealtrail_core::wire::IngestBatch;
use sealtrail_core::{Limits, Timestamp};
use sealtrail_server::config::TimeWindow;
use sealtrail_server::http::ingest::{validate_batch, Window};
use sealtrail_server::search::SearchConfig;
use support::*;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 500;

fn main() {
    let mut rng = Rng::new(7);
    let events: Vec<_> = (0..BATCH)
        .map(|_| {
            make_event(&mut rng, "agent-1", Timestamp::now(), 1024)
                .seal(&Limits::default())
                .unwrap()
        })
        .collect();
    let body = serde_json::to_vec(&IngestBatch { events }).unwrap();
    let limits = Limits::default();
    let search = SearchConfig::default();
    let no_words = SearchConfig { max_words: 0 };
    let split = |b: &[u8]| sealtrail_server::http::split::split_batch(b).unwrap().len();

    let best = |f: &dyn Fn() -> usize| {
        let mut best = f64::MAX;
        for _ in 0..7 {
            let t = Instant::now();
            let mut n = 0;
            for _ in 0..40 {
                n += f();
            }
            assert_eq!(n, 40 * BATCH);
            best = best.min(t.elapsed().as_secs_f64() * 1e9 / n as f64);
        }
        best
    };
    let window = Window::around_now(TimeWindow::default());
    let all = best(&|| {
        validate_batch(&body, &limits, &search, &window)
            .unwrap()
            .0
            .len()
    });
    let without_words = best(&|| {
        validate_batch(&body, &limits, &no_words, &window)
            .unwrap()
            .0
            .len()
    });
    let split_only = best(&|| split(&body));

    println!(
        "\n## Server CPU per event before the database ({BATCH}-event batch body of {} B, one thread, best of 7 × 40 batches)\n",
        body.len()
    );
    println!("| stage | ns/event |");
    println!("| --- | ---: |");
    println!("| split the batch body | {split_only:.0} |");
    println!(
        "| validate (parse, checks, canonical form, content hash), no words | {without_words:.0} |"
    );
    println!("| search words (16) | {:.0} |", all - without_words);
    println!("| total | {all:.0} |");
}

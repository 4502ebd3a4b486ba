//! `Client` (JsClient): the core client behind a JavaScript class. `record`
//! builds the event and enqueues it (never blocks, never throws for an
//! auditing failure); `flush`/`shutdown` wait on a libuv pool thread so the
//! JavaScript thread stays free; the core worker is a native thread that does
//! not hold the event loop open.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sealtrail_core::client::{Client, ClientConfig};

use crate::event::{self, EventExtra};
use crate::{payload, to_napi};

/// Defaults, then the `SEALTRAIL_*` environment, then `settings`: pairs of
/// core setting name and text value (`("batch_size", "100")`), parsed by
/// core's one parser, `ClientConfig::set`.
fn config(settings: Vec<Vec<String>>) -> sealtrail_core::Result<ClientConfig> {
    let mut c = ClientConfig::from_env()?;
    for kv in settings {
        if let [k, v] = kv.as_slice() {
            c.set(k, v)?;
        }
    }
    Ok(c)
}

#[napi(js_name = "Client")]
pub struct JsClient {
    inner: Arc<Client>,
    agent_id: String,
}

fn ms(timeout_ms: Option<f64>) -> Duration {
    Duration::from_millis(timeout_ms.unwrap_or(5000.0).clamp(0.0, 86_400_000.0) as u64)
}

#[napi]
impl JsClient {
    /// Starts the worker thread. Throws (`config: …`) for invalid options.
    #[napi(constructor, catch_unwind)]
    pub fn new(settings: Vec<Vec<String>>) -> Result<Self> {
        let cfg = config(settings).map_err(to_napi)?;
        let agent_id = cfg.agent_id.clone();
        let inner = Client::new(cfg).map_err(to_napi)?;
        Ok(JsClient {
            inner: Arc::new(inner),
            agent_id,
        })
    }

    #[napi(getter)]
    pub fn agent_id(&self) -> String {
        self.agent_id.clone()
    }

    /// Builds one event and enqueues it. Returns its id, or null when it was
    /// not accepted (queue full, invalid field): counted in metrics, logged,
    /// never thrown.
    #[napi(catch_unwind)]
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        kind: String,
        name: Option<String>,
        trace_id: Option<String>,
        parent_id: Option<String>,
        actor_id: Option<String>,
        session_id: Option<String>,
        inputs_json: Option<String>,
        inputs: Option<Unknown>,
        outputs_json: Option<String>,
        outputs: Option<Unknown>,
        latency_ms: Option<f64>,
        attrs_json: Option<String>,
        attrs: Option<Unknown>,
        messages_json: Option<String>,
        messages: Option<Unknown>,
        extra: Option<EventExtra>,
    ) -> Option<String> {
        let head = event::Head {
            kind,
            name,
            trace_id,
            parent_id,
            actor_id,
            session_id,
            latency_ms,
        };
        let e = event::build(
            &self.agent_id,
            head,
            payload(inputs_json, inputs),
            payload(outputs_json, outputs),
            payload(attrs_json, attrs),
            payload(messages_json, messages),
            extra,
        );
        match e {
            Ok(e) => {
                let id = e.id.to_string();
                self.inner.record(e).then_some(id)
            }
            Err(err) => {
                self.inner.count_invalid(&err);
                None
            }
        }
    }

    /// Resolves true once everything recorded so far is delivered, in the
    /// ledger or spooled; false when `timeoutMs` passed first.
    #[napi(catch_unwind, ts_return_type = "Promise<boolean>")]
    pub fn flush(&self, timeout_ms: Option<f64>) -> AsyncTask<Wait> {
        AsyncTask::new(Wait {
            client: self.inner.clone(),
            timeout: ms(timeout_ms),
            shutdown: false,
        })
    }

    /// Flushes, then stops the worker. Later `record` calls are dropped.
    #[napi(catch_unwind, ts_return_type = "Promise<boolean>")]
    pub fn shutdown(&self, timeout_ms: Option<f64>) -> AsyncTask<Wait> {
        AsyncTask::new(Wait {
            client: self.inner.clone(),
            timeout: ms(timeout_ms),
            shutdown: true,
        })
    }

    /// Blocking shutdown for `process.on('exit')` and signal handlers, where
    /// no promise can settle any more.
    #[napi(catch_unwind)]
    pub fn shutdown_sync(&self, timeout_ms: Option<f64>) -> bool {
        self.inner.shutdown(ms(timeout_ms))
    }

    /// The worker's counters (core's `MetricsSnapshot`, snake_case keys).
    #[napi(
        catch_unwind,
        ts_return_type = "Record<string, number | string | null>"
    )]
    pub fn metrics(&self) -> serde_json::Value {
        serde_json::to_value(self.inner.metrics()).unwrap_or(serde_json::Value::Null)
    }
}

pub struct Wait {
    client: Arc<Client>,
    timeout: Duration,
    shutdown: bool,
}

impl Task for Wait {
    type Output = bool;
    type JsValue = bool;

    fn compute(&mut self) -> Result<bool> {
        Ok(if self.shutdown {
            self.client.shutdown(self.timeout)
        } else {
            self.client.flush(self.timeout)
        })
    }

    fn resolve(&mut self, _env: Env, output: bool) -> Result<bool> {
        Ok(output)
    }
}

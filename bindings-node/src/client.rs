//! `Client` (JsClient): the core client behind a JavaScript class. `record`
//! builds the event and enqueues it (never blocks, never throws for an
//! auditing failure); `flush`/`shutdown` wait on a libuv pool thread so the
//! JavaScript thread stays free; the core worker is a native thread that does
//! not hold the event loop open.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sealtrail_core::client::{
    audit_receipts, verify_ledger_with_heads, Client, ClientConfig, DeliveryReport, LedgerHead,
};

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
    pub(crate) inner: Arc<Client>,
    pub(crate) agent_id: String,
    limits: sealtrail_core::Limits,
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
        let limits = cfg.limits;
        let inner = Client::new(cfg).map_err(to_napi)?;
        Ok(JsClient {
            inner: Arc::new(inner),
            agent_id,
            limits,
        })
    }

    #[napi(getter)]
    pub fn agent_id(&self) -> String {
        self.agent_id.clone()
    }

    /// Builds one event and enqueues it. Returns its id, or null when the
    /// queue refused it (full, or shut down: counted in metrics). Throws
    /// `invalid_event: …` for a field core refuses.
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
        validate: Option<bool>,
        redact: Option<String>,
    ) -> Result<Option<String>> {
        let head = event::Head {
            kind,
            name,
            trace_id,
            parent_id,
            actor_id,
            session_id,
            latency_ms,
        };
        // Explicit record* calls (`validate`) check core's field rules here,
        // so misuse shows at the call site (as in Python): their payloads are
        // parsed now. Wrapped tools hand `JSON.stringify` text to core's
        // worker, which parses it off this thread and drops (and counts) an
        // event it cannot accept.
        let check = validate == Some(true);
        let (e, mut opts) = event::build(
            &self.agent_id,
            head,
            payload(inputs_json, inputs),
            payload(outputs_json, outputs),
            payload(attrs_json, attrs),
            payload(messages_json, messages),
            extra,
            !check,
        )
        // An invalid field is the caller's mistake, not an auditing failure:
        // it is reported as an error the facade turns into a warning.
        .map_err(to_napi)?;
        if check {
            e.validate(&self.limits).map_err(to_napi)?;
        }
        opts.redact = redact.map(Into::into);
        let id = e.id.to_string();
        Ok(self.inner.record_with(e, opts).then_some(id))
    }

    /// Resolves with core's `DeliveryReport` once everything recorded so far
    /// is delivered, in the ledger or spooled (`complete: true`), or when
    /// `timeoutMs` passed first (what is left in memory is then spooled).
    #[napi(
        catch_unwind,
        ts_return_type = "Promise<Record<string, number | boolean>>"
    )]
    pub fn flush(&self, timeout_ms: Option<f64>) -> AsyncTask<Wait> {
        AsyncTask::new(Wait {
            client: self.inner.clone(),
            timeout: ms(timeout_ms),
            shutdown: false,
        })
    }

    /// Flushes, then stops the worker. Later `record` calls are dropped.
    #[napi(
        catch_unwind,
        ts_return_type = "Promise<Record<string, number | boolean>>"
    )]
    pub fn shutdown(&self, timeout_ms: Option<f64>) -> AsyncTask<Wait> {
        AsyncTask::new(Wait {
            client: self.inner.clone(),
            timeout: ms(timeout_ms),
            shutdown: true,
        })
    }

    /// Blocking shutdown for `process.on('exit')` and signal handlers, where
    /// no promise can settle any more.
    #[napi(catch_unwind, ts_return_type = "Record<string, number | boolean>")]
    pub fn shutdown_sync(&self, timeout_ms: Option<f64>) -> serde_json::Value {
        report(self.inner.shutdown(ms(timeout_ms)))
    }

    /// The worker's counters (core's `MetricsSnapshot`, snake_case keys).
    #[napi(
        catch_unwind,
        ts_return_type = "Record<string, number | string | null>"
    )]
    pub fn metrics(&self) -> serde_json::Value {
        serde_json::to_value(self.inner.metrics()).unwrap_or(serde_json::Value::Null)
    }

    /// The head of every chain of this client's ledger file as
    /// `AGENT:SEQ:HASH` (core's `Client::ledger_heads`; flush first). Empty
    /// when events go to a server.
    #[napi(catch_unwind)]
    pub fn ledger_heads(&self) -> Vec<String> {
        self.inner
            .ledger_heads()
            .iter()
            .map(|h| h.to_string())
            .collect()
    }
}

pub struct Wait {
    client: Arc<Client>,
    timeout: Duration,
    shutdown: bool,
}

/// A JSON value resolved into a promise (napi's `Task` needs `TypeName`).
pub struct Json(serde_json::Value);

impl TypeName for Json {
    fn type_name() -> &'static str {
        "unknown"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ToNapiValue for Json {
    unsafe fn to_napi_value(env: napi::sys::napi_env, val: Self) -> Result<napi::sys::napi_value> {
        serde_json::Value::to_napi_value(env, val.0)
    }
}

fn report(r: DeliveryReport) -> serde_json::Value {
    serde_json::to_value(r).unwrap_or(serde_json::Value::Null)
}

impl Task for Wait {
    type Output = DeliveryReport;
    type JsValue = Json;

    fn compute(&mut self) -> Result<DeliveryReport> {
        Ok(if self.shutdown {
            self.client.shutdown(self.timeout)
        } else {
            self.client.flush(self.timeout)
        })
    }

    fn resolve(&mut self, _env: Env, output: DeliveryReport) -> Result<Json> {
        Ok(Json(report(output)))
    }
}

pub struct Verify {
    path: Option<String>,
    heads: Vec<String>,
}

impl Task for Verify {
    type Output = serde_json::Value;
    type JsValue = Json;

    fn compute(&mut self) -> Result<serde_json::Value> {
        let path = match self.path.take() {
            Some(p) => std::path::PathBuf::from(p),
            None => ClientConfig::from_env().map_err(to_napi)?.ledger_path,
        };
        let heads = self
            .heads
            .iter()
            .map(|h| h.parse::<LedgerHead>())
            .collect::<sealtrail_core::Result<Vec<_>>>()
            .map_err(to_napi)?;
        let r = verify_ledger_with_heads(&path, &heads).map_err(to_napi)?;
        let ok = r.ok();
        let mut v = serde_json::to_value(r).unwrap_or(serde_json::Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("ok".into(), ok.into());
            o.insert("path".into(), path.display().to_string().into());
        }
        Ok(v)
    }

    fn resolve(&mut self, _env: Env, output: serde_json::Value) -> Result<Json> {
        Ok(Json(output))
    }
}

/// Verifies a local ledger file offline (default: the configured
/// `ledger_path`): core recomputes every content and link hash and names the
/// first broken seq of each chain, and checks each kept head
/// (`[AGENT:]SEQ:HASH`). Rejects when the file cannot be read or a head is
/// malformed.
#[napi(catch_unwind, ts_return_type = "Promise<Record<string, unknown>>")]
pub fn verify_ledger_file(path: Option<String>, heads: Option<Vec<String>>) -> AsyncTask<Verify> {
    AsyncTask::new(Verify {
        path,
        heads: heads.unwrap_or_default(),
    })
}

pub struct Audit {
    settings: Vec<Vec<String>>,
}

impl Task for Audit {
    type Output = serde_json::Value;
    type JsValue = Json;

    fn compute(&mut self) -> Result<serde_json::Value> {
        let cfg = config(std::mem::take(&mut self.settings)).map_err(to_napi)?;
        let r = audit_receipts(&cfg).map_err(to_napi)?;
        let (ok, unprovable) = (r.all_ok(), r.unprovable());
        let mut v = serde_json::to_value(r).unwrap_or(serde_json::Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("ok".into(), ok.into());
            o.insert("unprovable".into(), unprovable.into());
        }
        Ok(v)
    }

    fn resolve(&mut self, _env: Env, output: serde_json::Value) -> Result<Json> {
        Ok(Json(output))
    }
}

/// Audits the kept receipts against the server's transparency log (core's
/// `audit_receipts`) off the JavaScript thread: defaults, the environment,
/// then `settings` (pairs of core setting name and text value). Rejects for
/// a missing endpoint, API key or log key, or a server that cannot be asked.
#[napi(catch_unwind, ts_return_type = "Promise<Record<string, unknown>>")]
pub fn audit_receipts_task(settings: Vec<Vec<String>>) -> AsyncTask<Audit> {
    AsyncTask::new(Audit { settings })
}

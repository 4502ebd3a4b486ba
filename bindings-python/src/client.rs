//! `Client` (`PyClient`): converts Python arguments into core `Event`s and
//! hands them to core's client pipeline; flush and shutdown release the GIL.
//! `ToolSpec`: what `@sealtrail.tool` knows about a function, computed once
//! at decoration time so each call does no introspection.

use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use std::sync::Arc;

use sealtrail_core::client::record::finish_unredacted;
use sealtrail_core::client::{
    Client as CoreClient, ClientConfig, Destination, Payload, PromptStorage, RecordOptions,
};
use sealtrail_core::{Error, ErrorKind, Event, EventType};
use serde_json::{Map, Value};

use crate::convert;
use crate::errors::{to_py, IntoPyErr};
use crate::event::{self, Ctx, Fields};

/// Where events go: core's client pipeline, or (`init(capture=True)`) a
/// list in this process, unredacted and unsealed, for the agent's own tests.
// One per client (one per process): the variants' size difference costs
// nothing, and boxing the core client would add a hop to every record.
#[allow(clippy::large_enum_variant)]
enum Sink {
    Core(CoreClient),
    Memory(Mutex<Vec<Event>>),
}

impl Sink {
    fn record(&self, e: Event, opts: RecordOptions, storage: PromptStorage) {
        match self {
            // A refused event (queue full, closed) is counted by core.
            Sink::Core(c) => {
                c.record_with(e, opts);
            }
            Sink::Memory(v) => {
                // Captured as core's worker would see it before redaction.
                let limits = sealtrail_core::Limits::default();
                if let (Ok(e), Ok(mut v)) = (finish_unredacted(e, opts, &limits, storage), v.lock())
                {
                    v.push(e);
                }
            }
        }
    }
}

/// Seconds from Python → Duration, never panicking on NaN, negative or inf.
fn seconds(t: f64) -> Duration {
    Duration::try_from_secs_f64(t.max(0.0)).unwrap_or(Duration::from_secs(86_400))
}

/// An option value in the text form `ClientConfig::set` parses.
fn option_text(v: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if v.is_none() {
        return Ok(None);
    }
    if let Ok(b) = v.cast::<pyo3::types::PyBool>() {
        return Ok(Some(b.is_true().to_string()));
    }
    let py = v.py();
    let os = py.import("os")?;
    if v.is_instance(&os.getattr("PathLike")?)? {
        return Ok(Some(os.call_method1("fspath", (v,))?.str()?.to_string()));
    }
    Ok(Some(v.str()?.to_string()))
}

/// The per-function facts `@sealtrail.tool` records with each call.
#[pyclass(frozen, module = "sealtrail._native", name = "ToolSpec")]
pub struct ToolSpec {
    name: String,
    names: Vec<String>,
    varargs: Option<String>,
    skip_first: bool,
    capture_args: bool,
    capture_result: bool,
    side_effect: bool,
    /// Core's redaction override for this tool's events (checked when the
    /// tool is decorated; shared, not copied, by every event).
    redact: Option<Arc<str>>,
}

#[pymethods]
impl ToolSpec {
    #[new]
    #[pyo3(signature = (name, params, *, varargs=None, skip_first=false, capture_args=true,
        capture_result=true, side_effect=false, redact=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        name: String,
        params: Vec<String>,
        varargs: Option<String>,
        skip_first: bool,
        capture_args: bool,
        capture_result: bool,
        side_effect: bool,
        redact: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let redact: Option<Arc<str>> = match redact {
            None => None,
            Some(r) if r.is_none() => None,
            Some(r) => Some(match r.cast::<PyString>() {
                Ok(s) => s.to_cow()?.into(),
                Err(_) => sealtrail_core::jcs::to_string(&convert::to_value(&r)).into(),
            }),
        };
        if let Some(spec) = &redact {
            sealtrail_core::redact::RedactConfig::default()
                .apply_override(spec)
                .map_err(|e| to_py(Error::new(ErrorKind::Config, e.to_string())))?;
        }
        Ok(ToolSpec {
            name,
            names: params,
            varargs,
            skip_first,
            capture_args,
            capture_result,
            side_effect,
            redact,
        })
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The per-tool redaction override as core reads it (a mode spec, or
    /// settings by name as JSON).
    #[getter]
    fn redact(&self) -> Option<String> {
        self.redact.as_deref().map(str::to_owned)
    }

    #[getter]
    fn side_effect(&self) -> bool {
        self.side_effect
    }
}

impl ToolSpec {
    fn options(&self) -> RecordOptions {
        RecordOptions {
            redact: self.redact.clone(),
            ..RecordOptions::default()
        }
    }
}

#[pyclass(frozen, module = "sealtrail._native", name = "Client")]
pub struct PyClient {
    agent_id: String,
    /// Core's setting, kept for in-memory capture (core's worker applies it
    /// to recorded events).
    prompt_storage: PromptStorage,
    sink: ManuallyDrop<Sink>,
    /// Set in a forked child: the worker thread is not there, so the
    /// client is leaked rather than joined.
    abandoned: AtomicBool,
}

impl Drop for PyClient {
    fn drop(&mut self) {
        if !self.abandoned.load(Ordering::Relaxed) {
            // SAFETY: dropped exactly once, here; never used after.
            unsafe { ManuallyDrop::drop(&mut self.sink) };
        }
    }
}

fn ctx_tuple<'py>(
    py: Python<'py>,
    ctx: &Ctx,
    trace: &str,
    parent: &str,
) -> PyResult<Bound<'py, PyTuple>> {
    (
        ctx.actor_id.as_deref(),
        ctx.session_id.as_deref(),
        trace,
        parent,
    )
        .into_pyobject(py)
}

/// JSON → Python, for reports and metrics.
fn to_py_value<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any(),
            (_, Some(i)) => i.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(0.0).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let l = PyList::empty(py);
            for x in a {
                l.append(to_py_value(py, x)?)?;
            }
            l.into_any()
        }
        Value::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, to_py_value(py, x)?)?;
            }
            d.into_any()
        }
    })
}

#[pymethods]
impl PyClient {
    /// See `sealtrail.init` for the options.
    #[new]
    #[pyo3(signature = (*, capture=false, agent_id=None, prompt_storage=None, **options))]
    fn new(
        capture: bool,
        agent_id: Option<String>,
        prompt_storage: Option<String>,
        options: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let mut cfg = ClientConfig::from_env().py_err()?;
        if let Some(p) = &prompt_storage {
            cfg.set("prompt_storage", p).py_err()?;
        }
        let prompt_storage = cfg.prompt_storage;
        let sink = if capture {
            Sink::Memory(Mutex::new(Vec::new()))
        } else {
            if let Some(a) = &agent_id {
                cfg.set("agent_id", a).py_err()?;
            }
            if let Some(o) = &options {
                for (k, v) in o.iter() {
                    let key = k.str()?.to_string();
                    if let Some(text) = option_text(&v)? {
                        cfg.set(&key, &text).py_err()?;
                    }
                }
            }
            Sink::Core(CoreClient::new(cfg).py_err()?)
        };
        let agent_id = match &sink {
            Sink::Core(c) => c.agent_id().to_owned(),
            Sink::Memory(_) => agent_id
                .or_else(|| std::env::var("SEALTRAIL_AGENT_ID").ok())
                .unwrap_or_else(|| "default".to_owned()),
        };
        Ok(PyClient {
            agent_id,
            prompt_storage,
            sink: ManuallyDrop::new(sink),
            abandoned: AtomicBool::new(false),
        })
    }

    /// The local ledger file events go to, or None when they go to a server.
    #[getter]
    fn ledger_path(&self) -> Option<String> {
        match &*self.sink {
            Sink::Core(c) => match c.destination() {
                Destination::Ledger { path } => Some(path.to_string_lossy().into_owned()),
                Destination::Server { .. } => None,
            },
            Sink::Memory(_) => None,
        }
    }

    /// The server endpoint events go to, or None.
    #[getter]
    fn endpoint(&self) -> Option<String> {
        match &*self.sink {
            Sink::Core(c) => match c.destination() {
                Destination::Server { endpoint } => Some(endpoint.clone()),
                Destination::Ledger { .. } => None,
            },
            Sink::Memory(_) => None,
        }
    }

    #[getter]
    fn agent_id(&self) -> &str {
        &self.agent_id
    }

    /// Records an event of `kind` built from the fields; returns its id.
    #[pyo3(signature = (kind, ctx=None, *, name=None, inputs=None, outputs=None,
        decision=None, error=None, tokens=None, cost_usd=None, latency_ms=None, attrs=None))]
    #[allow(clippy::too_many_arguments)]
    fn record<'py>(
        &self,
        kind: &str,
        ctx: Option<Ctx>,
        name: Option<String>,
        inputs: Option<Bound<'py, PyAny>>,
        outputs: Option<Bound<'py, PyAny>>,
        decision: Option<Bound<'py, PyAny>>,
        error: Option<Bound<'py, PyAny>>,
        tokens: Option<Bound<'py, PyAny>>,
        cost_usd: Option<Bound<'py, PyAny>>,
        latency_ms: Option<u64>,
        attrs: Option<Bound<'py, PyAny>>,
    ) -> PyResult<String> {
        let f = Fields {
            name,
            inputs,
            outputs,
            decision,
            error,
            tokens,
            cost_usd,
            latency_ms,
            prompt_hash: None,
            attrs,
        };
        let e = event::build(kind, &self.agent_id, &ctx.unwrap_or_default(), f)?;
        let id = e.id.to_string();
        self.sink
            .record(e, RecordOptions::default(), self.prompt_storage);
        Ok(id)
    }

    /// `model_call`: the prompt hash is taken from `messages` before any
    /// redaction; the messages themselves are kept per `prompt_storage`.
    #[pyo3(signature = (ctx, model, messages, *, params=None, tokens=None, cost_usd=None,
        outputs=None, latency_ms=None, attrs=None))]
    #[allow(clippy::too_many_arguments)]
    fn model_call<'py>(
        &self,
        ctx: Option<Ctx>,
        model: String,
        messages: Bound<'py, PyAny>,
        params: Option<Bound<'py, PyAny>>,
        tokens: Option<Bound<'py, PyAny>>,
        cost_usd: Option<Bound<'py, PyAny>>,
        outputs: Option<Bound<'py, PyAny>>,
        latency_ms: Option<u64>,
        attrs: Option<Bound<'py, PyAny>>,
    ) -> PyResult<String> {
        // Core hashes the messages before redaction and keeps them as its
        // `prompt_storage` says; the binding only converts them.
        let msgs = convert::to_value(&messages);
        let inputs = match &params {
            Some(p) => {
                let d = PyDict::new(messages.py());
                d.set_item("params", p)?;
                Some(d.into_any())
            }
            None => None,
        };
        let f = Fields {
            name: Some(model),
            inputs,
            outputs,
            tokens,
            cost_usd,
            latency_ms,
            prompt_hash: None,
            attrs,
            ..Fields::default()
        };
        let e = event::build("model_call", &self.agent_id, &ctx.unwrap_or_default(), f)?;
        let id = e.id.to_string();
        let opts = RecordOptions {
            messages: Some(Payload::Value(msgs)),
            ..RecordOptions::default()
        };
        self.sink.record(e, opts, self.prompt_storage);
        Ok(id)
    }

    /// Records `tool_call` and returns the context for the call's body:
    /// `(actor_id, session_id, trace_id, call_id)`.
    #[pyo3(signature = (spec, ctx, args, kwargs=None))]
    fn tool_call<'py>(
        &self,
        spec: &Bound<'py, ToolSpec>,
        ctx: Option<Ctx>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let py = args.py();
        let s = spec.get();
        let ctx = ctx.unwrap_or_default();
        // Plain arguments go to core as JSON text, parsed on the worker;
        // anything else is converted here.
        let text = if s.capture_args {
            convert::bind_args_json(&s.names, s.varargs.as_deref(), args, kwargs, s.skip_first)
        } else {
            None
        };
        let mut e = event::tool_call(
            &self.agent_id,
            &s.name,
            &ctx,
            &s.names,
            s.varargs.as_deref(),
            args,
            kwargs,
            s.skip_first,
            s.capture_args && text.is_none(),
        );
        if s.side_effect {
            let mut m = Map::new();
            m.insert("side_effect".into(), Value::Bool(true));
            e.attrs = Some(m);
        }
        let id = e.id.to_string();
        let trace = e.trace_id.clone().unwrap_or_else(|| id.clone());
        let mut opts = s.options();
        opts.inputs_json = text;
        self.sink.record(e, opts, self.prompt_storage);
        ctx_tuple(py, &ctx, &trace, &id)
    }

    /// Records `tool_result` for the call whose body ran in `child`.
    fn tool_result(
        &self,
        spec: &Bound<'_, ToolSpec>,
        child: Ctx,
        result: &Bound<'_, PyAny>,
        latency_ns: u64,
    ) {
        let s = spec.get();
        let call_id = child.parent_id.as_deref().unwrap_or_default();
        let mut e = event::after_call(
            EventType::ToolResult,
            &self.agent_id,
            &s.name,
            &child,
            call_id,
        );
        if s.capture_result {
            e.outputs = Some(convert::to_value(result));
        }
        e.latency_ms = Some(latency_ns / 1_000_000);
        self.sink.record(e, s.options(), self.prompt_storage);
    }

    /// Records `error` for the call whose body ran in `child`.
    #[allow(clippy::too_many_arguments)]
    fn tool_error(
        &self,
        spec: &Bound<'_, ToolSpec>,
        child: Ctx,
        exc_type: String,
        message: String,
        stack: Option<String>,
        latency_ns: u64,
    ) {
        let s = spec.get();
        let call_id = child.parent_id.as_deref().unwrap_or_default();
        let mut e = event::after_call(EventType::Error, &self.agent_id, &s.name, &child, call_id);
        e.error = Some(event::error_info(exc_type, message, stack));
        e.latency_ms = Some(latency_ns / 1_000_000);
        self.sink.record(e, s.options(), self.prompt_storage);
    }

    /// `text` as core's redactor would store it.
    fn redact(&self, text: &str) -> PyResult<String> {
        match &*self.sink {
            Sink::Core(c) => Ok(c.redact_text(text).0),
            Sink::Memory(_) => {
                let cfg = sealtrail_core::client::ClientConfig::default();
                let r = sealtrail_core::client::redaction::redactor_for(&cfg).py_err()?;
                let mut report = sealtrail_core::redact::PiiReport::new();
                Ok(r.redact_text(text, &mut report).into_owned())
            }
        }
    }

    /// Waits up to `timeout` seconds until what is queued is delivered,
    /// spooled or written; the GIL is released meanwhile.
    #[pyo3(signature = (timeout=5.0))]
    fn flush<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyAny>> {
        let report = match &*self.sink {
            Sink::Core(c) => {
                let r = py.detach(|| c.flush(seconds(timeout)));
                serde_json::to_value(r).unwrap_or_default()
            }
            Sink::Memory(v) => serde_json::json!({
                "complete": true,
                "delivered": v.lock().map(|v| v.len()).unwrap_or(0),
                "spooled": 0, "dropped": 0, "rejected": 0, "ledger_written": 0, "queued": 0,
            }),
        };
        to_py_value(py, &report)
    }

    /// Flushes and stops the worker (at most `timeout` seconds, GIL
    /// released). Later records are dropped and counted.
    #[pyo3(signature = (timeout=5.0))]
    fn shutdown<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyAny>> {
        match &*self.sink {
            Sink::Core(c) => {
                let r = py.detach(|| c.shutdown(seconds(timeout)));
                to_py_value(py, &serde_json::to_value(r).unwrap_or_default())
            }
            Sink::Memory(_) => self.flush(py, timeout),
        }
    }

    /// Core's pipeline counters.
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let m = match &*self.sink {
            Sink::Core(c) => serde_json::to_value(c.metrics()).unwrap_or_default(),
            Sink::Memory(v) => {
                serde_json::json!({"recorded": v.lock().map(|v| v.len()).unwrap_or(0)})
            }
        };
        to_py_value(py, &m)
    }

    /// In-memory capture only: the events recorded so far, as JSON objects
    /// (unredacted, exactly as built), and clears them.
    fn take_captured<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let Sink::Memory(v) = &*self.sink else {
            return Err(to_py(Error::new(
                ErrorKind::Config,
                "take_captured needs a client made with capture=True",
            )));
        };
        let events = v
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .map_err(|_| to_py(Error::new(ErrorKind::Io, "capture buffer poisoned")))?;
        let out = PyList::empty(py);
        for e in events {
            out.append(to_py_value(py, &e.to_value())?)?;
        }
        Ok(out)
    }

    /// The head of every chain of this client's ledger file as
    /// `AGENT:SEQ:HASH` (core's `Client::ledger_heads`; flush first). Empty
    /// when events go to a server or are captured.
    fn ledger_heads(&self) -> Vec<String> {
        match &*self.sink {
            Sink::Core(c) => c.ledger_heads().iter().map(|h| h.to_string()).collect(),
            Sink::Memory(_) => Vec::new(),
        }
    }

    /// After `os.fork`, in the child: never touch the parent's worker.
    fn _abandon(&self) {
        self.abandoned.store(true, Ordering::Relaxed);
    }
}

/// Verifies a local ledger file (default: the configured ledger path);
/// returns core's report plus `ok`. `head`: kept chain heads, a string
/// `[AGENT:]SEQ:HASH` or a list of them (parsed by core). GIL released
/// while it reads.
#[pyfunction]
#[pyo3(signature = (path=None, head=None))]
fn verify_ledger<'py>(
    py: Python<'py>,
    path: Option<std::path::PathBuf>,
    head: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let path = match path {
        Some(p) => p,
        None => ClientConfig::from_env().py_err()?.ledger_path,
    };
    let texts: Vec<String> = match &head {
        None => Vec::new(),
        Some(h) if h.is_none() => Vec::new(),
        Some(h) => match h.cast::<PyString>() {
            Ok(s) => vec![s.to_cow()?.into_owned()],
            Err(_) => h.extract()?,
        },
    };
    let heads = texts
        .iter()
        .map(|t| t.parse::<sealtrail_core::client::LedgerHead>())
        .collect::<Result<Vec<_>, _>>()
        .py_err()?;
    let report = py
        .detach(|| sealtrail_core::client::verify_ledger_with_heads(&path, &heads))
        .py_err()?;
    let mut v = serde_json::to_value(&report).unwrap_or_default();
    if let Value::Object(m) = &mut v {
        m.insert("ok".into(), Value::Bool(report.ok()));
    }
    to_py_value(py, &v)
}

/// Audits the kept receipts against the server's transparency log (core's
/// `audit_receipts`): the environment, then `options` (any `ClientConfig`
/// key: endpoint, api_key, log_key, spool_dir, ...). Returns core's report
/// plus `ok` (nothing wrong, nothing left unasked) and `unprovable`. GIL
/// released while it asks the server.
#[pyfunction]
#[pyo3(signature = (**options))]
fn audit_receipts<'py>(
    py: Python<'py>,
    options: Option<Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut cfg = ClientConfig::from_env().py_err()?;
    if let Some(o) = &options {
        for (k, v) in o.iter() {
            if let Some(text) = option_text(&v)? {
                cfg.set(&k.str()?.to_string(), &text).py_err()?;
            }
        }
    }
    let report = py
        .detach(|| sealtrail_core::client::audit_receipts(&cfg))
        .py_err()?;
    let mut v = serde_json::to_value(&report).unwrap_or_default();
    if let Value::Object(m) = &mut v {
        m.insert("ok".into(), Value::Bool(report.all_ok()));
        m.insert("unprovable".into(), Value::Bool(report.unprovable()));
    }
    to_py_value(py, &v)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyClient>()?;
    m.add_class::<ToolSpec>()?;
    m.add_function(wrap_pyfunction!(verify_ledger, m)?)?;
    m.add_function(wrap_pyfunction!(audit_receipts, m)?)?;
    Ok(())
}

//! Python arguments → core `Event`. Only conversion: field rules are core's
//! (`Event::validate`), applied on the caller's thread for explicit
//! `record_*` calls so that misuse raises at the call site.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use sealtrail_core::event::{Decision, ErrorInfo, Tokens};
use sealtrail_core::{Error, ErrorKind, Event, EventType, Limits};
use serde_json::Value;

use crate::convert;
use crate::errors::IntoPyErr;

/// The ambient context that `sealtrail.session` and `sealtrail.trace` keep in
/// one `ContextVar`: `(actor_id, session_id, trace_id, parent_id)`.
#[derive(Default, Clone)]
pub struct Ctx {
    pub actor_id: Option<String>,
    pub session_id: Option<String>,
    pub trace_id: Option<String>,
    pub parent_id: Option<String>,
}

impl<'a, 'py> FromPyObject<'a, 'py> for Ctx {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_none() {
            return Ok(Ctx::default());
        }
        let (actor_id, session_id, trace_id, parent_id) = obj.extract()?;
        Ok(Ctx {
            actor_id,
            session_id,
            trace_id,
            parent_id,
        })
    }
}

impl Ctx {
    fn core(&self) -> sealtrail_core::capture::Context {
        sealtrail_core::capture::Context {
            actor_id: self.actor_id.clone(),
            session_id: self.session_id.clone(),
            trace_id: self.trace_id.clone(),
            parent_id: self.parent_id.clone(),
        }
    }
}

/// A new event of `kind` carrying the context (core's rules).
pub fn base(kind: EventType, agent_id: &str, ctx: &Ctx) -> Event {
    Event::in_context(kind, agent_id, &ctx.core())
}

/// `tool_call`: inputs are the arguments by parameter name.
#[allow(clippy::too_many_arguments)]
pub fn tool_call(
    agent_id: &str,
    name: &str,
    ctx: &Ctx,
    names: &[String],
    varargs: Option<&str>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    skip_first: bool,
    capture_args: bool,
) -> Event {
    let mut e = base(EventType::ToolCall, agent_id, ctx);
    e.name = Some(name.to_owned());
    if capture_args {
        e.inputs = Some(Value::Object(convert::bind_args(
            names, varargs, args, kwargs, skip_first,
        )));
    }
    e
}

/// `tool_result` or `error` after a `tool_call` (core's rules).
pub fn after_call(kind: EventType, agent_id: &str, name: &str, ctx: &Ctx, call_id: &str) -> Event {
    Event::after_call(kind, agent_id, name, &ctx.core(), call_id)
}

pub fn error_info(kind: String, message: String, stack: Option<String>) -> ErrorInfo {
    ErrorInfo {
        kind,
        message,
        stack,
    }
}

fn invalid(msg: impl Into<String>) -> PyErr {
    crate::errors::to_py(Error::new(ErrorKind::InvalidEvent, msg))
}

/// `cost_usd` as a decimal string: `str`, `int`, `Decimal` (formatted
/// without exponent) or `float` (through its shortest repr). Core checks the form.
pub fn cost(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = obj.py();
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    let dec = py.import("decimal")?.getattr("Decimal")?;
    let d = if obj.is_instance(&dec)? {
        obj.clone()
    } else if obj.is_instance_of::<pyo3::types::PyFloat>()
        || obj.is_instance_of::<pyo3::types::PyInt>()
    {
        dec.call1((obj.repr()?,))?
    } else {
        return Err(invalid(format!(
            "cost_usd must be a str, int, float or Decimal, not {}",
            obj.get_type().name()?
        )));
    };
    d.call_method1("__format__", ("f",))?.extract()
}

/// Fields of an explicit `record(...)` call.
#[derive(Default)]
pub struct Fields<'py> {
    pub name: Option<String>,
    pub inputs: Option<Bound<'py, PyAny>>,
    pub outputs: Option<Bound<'py, PyAny>>,
    pub decision: Option<Bound<'py, PyAny>>,
    pub error: Option<Bound<'py, PyAny>>,
    pub tokens: Option<Bound<'py, PyAny>>,
    pub cost_usd: Option<Bound<'py, PyAny>>,
    pub latency_ms: Option<u64>,
    pub prompt_hash: Option<String>,
    pub attrs: Option<Bound<'py, PyAny>>,
}

fn parse<T: serde::de::DeserializeOwned>(field: &str, v: &Bound<'_, PyAny>) -> PyResult<T> {
    serde_json::from_value(convert::to_value(v)).map_err(|e| invalid(format!("{field}: {e}")))
}

/// Builds and validates an event from an explicit `record(...)` call.
pub fn build(kind: &str, agent_id: &str, ctx: &Ctx, f: Fields<'_>) -> PyResult<Event> {
    let kind: EventType = kind.parse().py_err()?;
    let mut e = base(kind, agent_id, ctx);
    e.name = f.name;
    e.inputs = f.inputs.map(|v| convert::to_value(&v));
    e.outputs = f.outputs.map(|v| convert::to_value(&v));
    if let Some(d) = f.decision {
        e.decision = Some(parse::<Decision>("decision", &d)?);
    }
    if let Some(err) = f.error {
        e.error = Some(parse::<ErrorInfo>("error", &err)?);
    }
    if let Some(t) = f.tokens {
        e.tokens = Some(
            if let Ok((i, o)) = t.extract::<(Option<u64>, Option<u64>)>() {
                Tokens {
                    input: i,
                    output: o,
                }
            } else {
                parse::<Tokens>("tokens", &t)?
            },
        );
    }
    if let Some(c) = f.cost_usd {
        e.cost_usd = Some(cost(&c)?);
    }
    e.latency_ms = f.latency_ms;
    e.prompt_hash = f.prompt_hash;
    if let Some(a) = f.attrs {
        match convert::to_value(&a) {
            Value::Object(m) => e.attrs = Some(m),
            _ => return Err(invalid("attrs must be a mapping")),
        }
    }
    e.validate(&Limits::default()).py_err()?;
    Ok(e)
}

/// The event as RFC 8785 JSON (what `content_hash` covers), for tests and
/// debugging: `record` builds exactly this.
#[pyfunction]
#[pyo3(signature = (kind, agent_id, ctx=None, *, name=None, inputs=None, outputs=None,
    decision=None, error=None, tokens=None, cost_usd=None, latency_ms=None,
    prompt_hash=None, attrs=None))]
#[allow(clippy::too_many_arguments)]
fn build_event<'py>(
    kind: &str,
    agent_id: &str,
    ctx: Option<Ctx>,
    name: Option<String>,
    inputs: Option<Bound<'py, PyAny>>,
    outputs: Option<Bound<'py, PyAny>>,
    decision: Option<Bound<'py, PyAny>>,
    error: Option<Bound<'py, PyAny>>,
    tokens: Option<Bound<'py, PyAny>>,
    cost_usd: Option<Bound<'py, PyAny>>,
    latency_ms: Option<u64>,
    prompt_hash: Option<String>,
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
        prompt_hash,
        attrs,
    };
    let e = build(kind, agent_id, &ctx.unwrap_or_default(), f)?;
    Ok(String::from_utf8_lossy(&e.canonical_bytes()).into_owned())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(build_event, m)?)?;
    Ok(())
}

//! Python value → `serde_json::Value`, on the caller's thread, without a
//! `json.dumps` round trip. Conversion never fails: whatever cannot be
//! represented becomes a marker string, so auditing never raises into the
//! agent.
//!
//! | Python | JSON |
//! | --- | --- |
//! | `None`, `bool`, `str` | null, boolean, string |
//! | `int` | number when `|n| <= 2**53 - 1`, else its decimal string (exact in every language) |
//! | `float` | number; `nan`, `inf`, `-inf` become the strings `"NaN"`, `"Infinity"`, `"-Infinity"` |
//! | `dict` / any `Mapping` | object; non-string keys become their JSON text (`1` → `"1"`) or `str()` |
//! | `list`, `tuple`, `deque` | array |
//! | `set`, `frozenset` | array sorted by canonical JSON, so equal sets give equal events |
//! | `datetime`, `date`, `time` | ISO 8601 string (`isoformat()`) |
//! | `timedelta` | number of seconds |
//! | `Decimal` | string (`str()`), never a float |
//! | `UUID` | canonical string |
//! | `bytes`, `bytearray`, `memoryview` | standard base64 string (RFC 4648, with padding) |
//! | `Enum` member | its `value`, converted |
//! | dataclass instance | object of its fields |
//! | pydantic model | `model_dump(mode="json")` (v2) or `dict()` (v1), converted |
//! | `os.PathLike` | `os.fspath()` string |
//! | anything else | `repr()` truncated to [`MAX_REPR_CHARS`] characters |
//!
//! A container that contains itself becomes `"<cycle>"`; containers nested
//! deeper than [`MAX_DEPTH`] become `"<too deep>"`.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PyMapping, PySet,
    PyString, PyTuple, PyType,
};
use sealtrail_core::capture::values::bytes as base64;
use serde_json::{Map, Number, Value};

/// Deepest nesting of containers converted; below it a marker string.
/// The event itself and its field add two levels under core's limit of 64.
pub use sealtrail_core::capture::values::MAX_DEPTH;
/// Longest `repr()` kept for values of unknown type.
pub const MAX_REPR_CHARS: usize = 500;
const MAX_SAFE_INT: i64 = (1 << 53) - 1;

/// Python types looked up once per interpreter.
struct Types {
    datetime: Py<PyType>,
    date: Py<PyType>,
    time: Py<PyType>,
    timedelta: Py<PyType>,
    decimal: Py<PyType>,
    uuid: Py<PyType>,
    enum_: Py<PyType>,
    deque: Py<PyType>,
    pathlike: Py<PyType>,
    fields: Py<PyAny>,
}

static TYPES: PyOnceLock<Types> = PyOnceLock::new();

fn types(py: Python<'_>) -> PyResult<&Types> {
    TYPES.get_or_try_init(py, || {
        let ty = |m: &str, n: &str| -> PyResult<Py<PyType>> {
            Ok(py.import(m)?.getattr(n)?.cast_into::<PyType>()?.unbind())
        };
        Ok(Types {
            datetime: ty("datetime", "datetime")?,
            date: ty("datetime", "date")?,
            time: ty("datetime", "time")?,
            timedelta: ty("datetime", "timedelta")?,
            decimal: ty("decimal", "Decimal")?,
            uuid: ty("uuid", "UUID")?,
            enum_: ty("enum", "Enum")?,
            deque: ty("collections", "deque")?,
            pathlike: ty("os", "PathLike")?,
            fields: py.import("dataclasses")?.getattr("fields")?.unbind(),
        })
    })
}

/// Converts `obj` to JSON. Never raises; see the module docs for the mapping.
pub fn to_value(obj: &Bound<'_, PyAny>) -> Value {
    let mut c = Converter { stack: Vec::new() };
    c.value(obj, 0)
}

/// Converts positional and keyword arguments into an object keyed by
/// parameter name: `names[i]` for the i-th positional argument (extra
/// positionals go to `varargs` as an array under that name, or `"args"`),
/// keywords by their own name.
pub fn bind_args(
    names: &[String],
    varargs: Option<&str>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    skip_first: bool,
) -> Map<String, Value> {
    let mut c = Converter { stack: Vec::new() };
    let mut out = Map::new();
    let mut extra = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if skip_first && i == 0 {
            continue;
        }
        let v = c.value(&a, 1);
        match names.get(i) {
            Some(n) => {
                out.insert(n.clone(), v);
            }
            None => extra.push(v),
        }
    }
    if !extra.is_empty() {
        out.insert(varargs.unwrap_or("args").to_owned(), Value::Array(extra));
    }
    if let Some(kw) = kwargs {
        for (k, v) in kw.iter() {
            let key = c.key(&k);
            let v = c.value(&v, 1);
            out.insert(key, v);
        }
    }
    out
}

/// [`bind_args`] written straight to JSON text, for core's worker to parse:
/// no JSON value tree is built on the caller's thread. Only exact built-in
/// types (str, int within 2^53, finite float, bool, None, dict with str
/// keys, list, tuple) take this path; `None` for anything else, and the
/// caller falls back to [`bind_args`], so both give the same event.
pub fn bind_args_json(
    names: &[String],
    varargs: Option<&str>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    skip_first: bool,
) -> Option<String> {
    /// Writes `"key":` (with the comma), refusing a key already written.
    fn member<'k>(out: &mut Vec<u8>, keys: &mut Vec<&'k str>, key: &'k str) -> Option<()> {
        if keys.contains(&key) {
            return None;
        }
        if !keys.is_empty() {
            out.push(b',');
        }
        keys.push(key);
        sealtrail_core::jcs::write_string(key, out);
        out.push(b':');
        Some(())
    }
    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    let mut keys: Vec<&str> = Vec::new();
    let n = args.len();
    let positional = names.len().min(n);
    let start = usize::from(skip_first);
    for (i, name) in names.iter().enumerate().take(positional).skip(start) {
        member(&mut out, &mut keys, name)?;
        write_json(&args.get_item(i).ok()?, 1, &mut out)?;
    }
    let rest = positional.max(start);
    if n > rest {
        member(&mut out, &mut keys, varargs.unwrap_or("args"))?;
        out.push(b'[');
        for i in rest..n {
            if i > rest {
                out.push(b',');
            }
            write_json(&args.get_item(i).ok()?, 2, &mut out)?;
        }
        out.push(b']');
    }
    let mut comma = !keys.is_empty();
    if let Some(kw) = kwargs {
        for (k, v) in kw.iter() {
            let k = utf8(k.cast_exact::<PyString>().ok()?)?;
            if keys.contains(&k) {
                return None;
            }
            if comma {
                out.push(b',');
            }
            comma = true;
            sealtrail_core::jcs::write_string(k, &mut out);
            out.push(b':');
            write_json(&v, 1, &mut out)?;
        }
    }
    out.push(b'}');
    String::from_utf8(out).ok()
}

/// Decimal digits of `n` into `out`, without allocating or `fmt`.
fn write_i64(n: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut u = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// The UTF-8 of a str without copying; `None` for lone surrogates.
fn utf8<'a>(s: &'a Bound<'_, PyString>) -> Option<&'a str> {
    let mut size: pyo3::ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live str and we hold the GIL; the buffer lives as long as `s`.
    let p = unsafe { PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
    if p.is_null() {
        let _ = PyErr::take(s.py());
        return None;
    }
    // SAFETY: CPython returns `size` bytes of UTF-8 at `p`.
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), size as usize) };
    std::str::from_utf8(bytes).ok()
}

/// One value as JSON text, or `None` when it needs the general converter.
fn write_json(obj: &Bound<'_, PyAny>, depth: usize, out: &mut Vec<u8>) -> Option<()> {
    if obj.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(s) = obj.cast_exact::<PyString>() {
        sealtrail_core::jcs::write_string(utf8(s)?, out);
    } else if let Ok(b) = obj.cast_exact::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if obj.is_exact_instance_of::<PyInt>() {
        let n = obj.extract::<i64>().ok()?;
        if !(-MAX_SAFE_INT..=MAX_SAFE_INT).contains(&n) {
            return None;
        }
        write_i64(n, out);
    } else if let Ok(f) = obj.cast_exact::<PyFloat>() {
        let f = f.value();
        if !f.is_finite() {
            return None;
        }
        sealtrail_core::jcs::write_f64(f, out);
    } else if depth >= MAX_DEPTH {
        return None;
    } else if let Ok(d) = obj.cast_exact::<PyDict>() {
        out.push(b'{');
        for (i, (k, v)) in d.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let k = k.cast_exact::<PyString>().ok()?;
            sealtrail_core::jcs::write_string(utf8(k)?, out);
            out.push(b':');
            write_json(&v, depth + 1, out)?;
        }
        out.push(b'}');
    } else if let Ok(l) = obj.cast_exact::<PyList>() {
        write_seq(l.iter(), depth, out)?;
    } else if let Ok(t) = obj.cast_exact::<PyTuple>() {
        write_seq(t.iter(), depth, out)?;
    } else {
        return None;
    }
    Some(())
}

fn write_seq<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    depth: usize,
    out: &mut Vec<u8>,
) -> Option<()> {
    out.push(b'[');
    for (i, x) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json(&x, depth + 1, out)?;
    }
    out.push(b']');
    Some(())
}

/// Truncated `repr()`, or a marker naming the type if `repr` itself fails.
pub fn short_repr(obj: &Bound<'_, PyAny>) -> String {
    match obj.repr() {
        Ok(r) => truncate(&r.to_string_lossy(), MAX_REPR_CHARS),
        Err(_) => format!("<unrepresentable {}>", type_name(obj)),
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "object".to_owned())
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        None => s.to_owned(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

// In CPython's stable ABI only from 3.10, but exported by CPython 3.9 too
// (the abi3 module resolves it at load time). For ASCII and already-encoded
// strings it returns the cached UTF-8 without a temporary `bytes` object,
// which is most of the cost of converting arguments.
extern "C" {
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut pyo3::ffi::PyObject,
        size: *mut pyo3::ffi::Py_ssize_t,
    ) -> *const std::ffi::c_char;
}

fn string(s: &Bound<'_, PyString>) -> String {
    let mut size: pyo3::ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a live str and we hold the GIL; the buffer lives as long as `s`.
    let p = unsafe { PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
    if p.is_null() {
        // Lone surrogates: not UTF-8. Clear the error, keep what can be kept.
        let _ = PyErr::take(s.py());
        return s.to_string_lossy().into_owned();
    }
    // SAFETY: CPython returns `size` bytes of valid UTF-8 at `p`.
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), size as usize) };
    String::from_utf8_lossy(bytes).into_owned()
}

fn int(i: &Bound<'_, PyAny>) -> Value {
    if let Ok(n) = i.extract::<i64>() {
        if (-MAX_SAFE_INT..=MAX_SAFE_INT).contains(&n) {
            return Value::Number(n.into());
        }
    }
    // Beyond 2^53 a JSON number is not exact everywhere: keep the digits.
    match i.str() {
        Ok(s) => Value::String(string(&s)),
        Err(_) => Value::String(short_repr(i)),
    }
}

fn float(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

struct Converter {
    /// Containers on the current path, for cycle detection.
    stack: Vec<usize>,
}

impl Converter {
    fn value(&mut self, obj: &Bound<'_, PyAny>, depth: usize) -> Value {
        // Fast path: exact built-in types, by pointer comparison.
        if obj.is_none() {
            return Value::Null;
        }
        if let Ok(s) = obj.cast_exact::<PyString>() {
            return Value::String(string(s));
        }
        if let Ok(b) = obj.cast_exact::<PyBool>() {
            return Value::Bool(b.is_true());
        }
        if obj.is_exact_instance_of::<PyInt>() {
            return int(obj);
        }
        if let Ok(f) = obj.cast_exact::<PyFloat>() {
            return float(f.value());
        }
        if let Ok(d) = obj.cast_exact::<PyDict>() {
            return self.nested(obj, depth, |c| Value::Object(c.dict(d, depth)));
        }
        if let Ok(l) = obj.cast_exact::<PyList>() {
            return self.nested(obj, depth, |c| {
                Value::Array(l.iter().map(|x| c.value(&x, depth + 1)).collect())
            });
        }
        if let Ok(t) = obj.cast_exact::<PyTuple>() {
            return self.nested(obj, depth, |c| {
                Value::Array(t.iter().map(|x| c.value(&x, depth + 1)).collect())
            });
        }
        match self.slow(obj, depth) {
            Ok(v) => v,
            Err(_) => Value::String(short_repr(obj)),
        }
    }

    /// Enters a container: refuses cycles and excessive depth.
    fn nested(
        &mut self,
        obj: &Bound<'_, PyAny>,
        depth: usize,
        f: impl FnOnce(&mut Self) -> Value,
    ) -> Value {
        if depth >= MAX_DEPTH {
            return Value::String(sealtrail_core::capture::values::TOO_DEEP.into());
        }
        let id = obj.as_ptr() as usize;
        if self.stack.contains(&id) {
            return Value::String(sealtrail_core::capture::values::CYCLE.into());
        }
        self.stack.push(id);
        let v = f(self);
        self.stack.pop();
        v
    }

    fn dict(&mut self, d: &Bound<'_, PyDict>, depth: usize) -> Map<String, Value> {
        let mut m = Map::new();
        for (k, v) in d.iter() {
            let key = self.key(&k);
            let v = self.value(&v, depth + 1);
            m.insert(key, v);
        }
        m
    }

    fn key(&mut self, k: &Bound<'_, PyAny>) -> String {
        if let Ok(s) = k.cast::<PyString>() {
            return string(s);
        }
        // A key is one JSON text: small containers (tuples) are fine, deep ones are not.
        match self.value(k, MAX_DEPTH - 4) {
            Value::String(s) => s,
            other => other.to_string(),
        }
    }

    fn slow(&mut self, obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
        let py = obj.py();
        let t = types(py)?;
        if obj.is_instance(t.enum_.bind(py))? {
            let v = obj.getattr(pyo3::intern!(py, "value"))?;
            return Ok(self.nested(obj, depth, |c| c.value(&v, depth + 1)));
        }
        if let Ok(b) = obj.cast::<PyBool>() {
            return Ok(Value::Bool(b.is_true()));
        }
        if obj.is_instance_of::<PyInt>() {
            return Ok(int(obj));
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            return Ok(float(f.value()));
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return Ok(Value::String(string(s)));
        }
        if obj.is_instance(t.datetime.bind(py))?
            || obj.is_instance(t.date.bind(py))?
            || obj.is_instance(t.time.bind(py))?
        {
            let s = obj.call_method0(pyo3::intern!(py, "isoformat"))?;
            return Ok(Value::String(string(s.cast::<PyString>()?)));
        }
        if obj.is_instance(t.timedelta.bind(py))? {
            let s: f64 = obj
                .call_method0(pyo3::intern!(py, "total_seconds"))?
                .extract()?;
            return Ok(float(s));
        }
        if obj.is_instance(t.decimal.bind(py))? || obj.is_instance(t.uuid.bind(py))? {
            return Ok(Value::String(string(&obj.str()?)));
        }
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(Value::String(base64(b.as_bytes())));
        }
        if let Ok(b) = obj.cast::<PyByteArray>() {
            return Ok(Value::String(base64(&b.to_vec())));
        }
        if obj.hasattr(pyo3::intern!(py, "tobytes"))? && obj.get_type().name()? == "memoryview" {
            let b = obj.call_method0(pyo3::intern!(py, "tobytes"))?;
            return Ok(Value::String(base64(b.cast::<PyBytes>()?.as_bytes())));
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            return Ok(self.nested(obj, depth, |c| Value::Object(c.dict(d, depth))));
        }
        if obj.is_instance_of::<PyList>()
            || obj.is_instance_of::<PyTuple>()
            || obj.is_instance(t.deque.bind(py))?
        {
            let items: Vec<Bound<'_, PyAny>> = obj.try_iter()?.collect::<PyResult<_>>()?;
            return Ok(self.nested(obj, depth, |c| {
                Value::Array(items.iter().map(|x| c.value(x, depth + 1)).collect())
            }));
        }
        if obj.is_instance_of::<PySet>() || obj.is_instance_of::<PyFrozenSet>() {
            let items: Vec<Bound<'_, PyAny>> = obj.try_iter()?.collect::<PyResult<_>>()?;
            return Ok(self.nested(obj, depth, |c| {
                let mut vals: Vec<(Vec<u8>, Value)> = items
                    .iter()
                    .map(|x| {
                        let v = c.value(x, depth + 1);
                        (sealtrail_core::jcs::to_vec(&v), v)
                    })
                    .collect();
                vals.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Array(vals.into_iter().map(|(_, v)| v).collect())
            }));
        }
        let ty = obj.get_type();
        if ty.hasattr(pyo3::intern!(py, "__dataclass_fields__"))? && !obj.is_instance_of::<PyType>()
        {
            let fields = t.fields.bind(py).call1((obj,))?;
            let mut pairs = Vec::new();
            for f in fields.try_iter()? {
                let name = f?.getattr(pyo3::intern!(py, "name"))?;
                let v = obj.getattr(name.cast::<PyString>()?)?;
                pairs.push((string(name.cast::<PyString>()?), v));
            }
            return Ok(self.nested(obj, depth, |c| {
                Value::Object(
                    pairs
                        .iter()
                        .map(|(k, v)| (k.clone(), c.value(v, depth + 1)))
                        .collect(),
                )
            }));
        }
        if ty.hasattr(pyo3::intern!(py, "model_dump"))? && !obj.is_instance_of::<PyType>() {
            let kw = PyDict::new(py);
            kw.set_item("mode", "json")?;
            let dumped = obj
                .call_method(pyo3::intern!(py, "model_dump"), (), Some(&kw))
                .or_else(|_| obj.call_method0(pyo3::intern!(py, "model_dump")))?;
            return Ok(self.nested(obj, depth, |c| c.value(&dumped, depth + 1)));
        }
        if ty.hasattr(pyo3::intern!(py, "__fields__"))?
            && ty.hasattr(pyo3::intern!(py, "dict"))?
            && !obj.is_instance_of::<PyType>()
        {
            let dumped = obj.call_method0(pyo3::intern!(py, "dict"))?;
            return Ok(self.nested(obj, depth, |c| c.value(&dumped, depth + 1)));
        }
        if let Ok(m) = obj.cast::<PyMapping>() {
            let items: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = m
                .items()?
                .iter()
                .map(|kv| kv.extract())
                .collect::<PyResult<_>>()?;
            return Ok(self.nested(obj, depth, |c| {
                let mut out = Map::new();
                for (k, v) in &items {
                    let key = c.key(k);
                    out.insert(key, c.value(v, depth + 1));
                }
                Value::Object(out)
            }));
        }
        if obj.is_instance(t.pathlike.bind(py))? {
            let p = obj.call_method0(pyo3::intern!(py, "__fspath__"))?;
            return Ok(match p.cast::<PyString>() {
                Ok(s) => Value::String(string(s)),
                Err(_) => self.value(&p, depth + 1),
            });
        }
        Err(PyException::new_err("no conversion"))
    }
}

//! JavaScript value → `serde_json::Value`, walked natively so that anything an
//! agent passes to a tool converts without throwing: the rules are those of
//! `JSON.stringify` (own enumerable string keys, `toJSON`, `undefined` and
//! functions dropped, non-finite numbers → `null`), extended to the values
//! `JSON.stringify` cannot carry:
//!
//! | JavaScript | JSON |
//! | --- | --- |
//! | `BigInt` | number when within ±(2^53−1), else its decimal string |
//! | `Buffer`, typed array, `ArrayBuffer`, `DataView` | base64 string (RFC 4648, padded) |
//! | `Map` | object (keys as `String(key)`) |
//! | `Set` | array sorted by canonical JSON (as Python sorts sets) |
//! | `Error` | `{"type": name, "message": message}` |
//! | a repeated ancestor (cycle) | `"<cycle>"` |
//! | nesting past 48 levels | `"<too deep>"` |
//!
//! A value whose conversion throws (a getter, a hostile `toJSON`) becomes
//! `"[Unserializable]"` and the pending exception is cleared, so auditing
//! never throws into the agent. No decision here depends on more than the
//! value's type: redaction, limits and hashing stay in core.

use std::ptr;

use napi::sys;
use serde_json::{Map, Number, Value};

/// Deepest nesting converted, as in the Python binding (core's limit is 64
/// with the event and its field taking two levels).
pub use sealtrail_core::capture::values::MAX_DEPTH;
const MAX_SAFE: i64 = sealtrail_core::event::MAX_SAFE_INTEGER as i64;

pub const CIRCULAR: &str = sealtrail_core::capture::values::CYCLE;
pub const TRUNCATED: &str = sealtrail_core::capture::values::TOO_DEEP;
pub const UNSERIALIZABLE: &str = "[Unserializable]";

/// Raw napi failure: the walk turns it into a marker, never an exception.
struct Fail;

type R<T> = Result<T, Fail>;

#[inline]
fn ok(status: sys::napi_status) -> R<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Fail)
    }
}

struct Walker {
    env: sys::napi_env,
    map_ctor: sys::napi_value,
    set_ctor: sys::napi_value,
    ancestors: Vec<sys::napi_value>,
}

/// Converts `value` (a raw handle valid in `env` for this call) to JSON.
/// `None` means "absent" (`undefined`, a function, a symbol).
///
/// # Safety
/// `env` and `value` must be the live handles of the current napi call.
pub unsafe fn to_json(env: sys::napi_env, value: sys::napi_value) -> Option<Value> {
    let mut w = Walker {
        env,
        map_ctor: ptr::null_mut(),
        set_ctor: ptr::null_mut(),
        ancestors: Vec::new(),
    };
    match w.value(value, "", 0) {
        Ok(v) => v,
        Err(Fail) => {
            clear_exception(env);
            Some(Value::String(UNSERIALIZABLE.into()))
        }
    }
}

unsafe fn clear_exception(env: sys::napi_env) {
    let mut pending = false;
    if sys::napi_is_exception_pending(env, &mut pending) == sys::Status::napi_ok && pending {
        let mut exc = ptr::null_mut();
        sys::napi_get_and_clear_last_exception(env, &mut exc);
    }
}

/// A JavaScript string as UTF-8: one copy when it is ASCII (as
/// `JSON.stringify` output usually is), else measured first.
///
/// # Safety
/// `env` and `v` must be the live handles of the current napi call.
pub unsafe fn string(env: sys::napi_env, v: sys::napi_value) -> Option<String> {
    // Its length in UTF-16 units, without reading it. UTF-8 takes at least
    // one byte per unit, and napi never splits a character, so a write that
    // stops short of `units + 1` bytes with 4 bytes of room left is whole.
    let mut units = 0usize;
    ok(sys::napi_get_value_string_utf16(
        env,
        v,
        ptr::null_mut(),
        0,
        &mut units,
    ))
    .ok()?;
    // Writes `v` as UTF-8 into a new buffer of `cap` bytes (room for the NUL).
    let read = |cap: usize| -> Option<(Vec<u8>, usize)> {
        let mut buf: Vec<u8> = Vec::with_capacity(cap);
        let mut written = 0usize;
        ok(sys::napi_get_value_string_utf8(
            env,
            v,
            buf.as_mut_ptr().cast(),
            cap,
            &mut written,
        ))
        .ok()?;
        Some((buf, written))
    };
    let (mut buf, mut written) = read(units + 5)?;
    if written > units {
        // Not all ASCII and perhaps cut short: measure, then read again.
        let mut bytes = 0usize;
        ok(sys::napi_get_value_string_utf8(
            env,
            v,
            ptr::null_mut(),
            0,
            &mut bytes,
        ))
        .ok()?;
        (buf, written) = read(bytes + 1)?;
    }
    buf.set_len(written);
    // napi writes UTF-8 (lone surrogates become U+FFFD).
    Some(
        String::from_utf8(buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

fn number(f: f64) -> Value {
    if !f.is_finite() {
        return Value::Null;
    }
    if f.fract() == 0.0 && f.abs() <= MAX_SAFE as f64 {
        // -0 becomes 0, as JSON.stringify writes it.
        return Value::Number(Number::from(f as i64));
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

impl Walker {
    unsafe fn type_of(&self, v: sys::napi_value) -> R<i32> {
        let mut t = 0;
        ok(sys::napi_typeof(self.env, v, &mut t))?;
        Ok(t)
    }

    unsafe fn string(&self, v: sys::napi_value) -> R<String> {
        string(self.env, v).ok_or(Fail)
    }

    unsafe fn named(&self, obj: sys::napi_value, name: &std::ffi::CStr) -> R<sys::napi_value> {
        let mut out = ptr::null_mut();
        ok(sys::napi_get_named_property(
            self.env,
            obj,
            name.as_ptr(),
            &mut out,
        ))?;
        Ok(out)
    }

    unsafe fn coerce_string(&self, v: sys::napi_value) -> R<String> {
        let mut s = ptr::null_mut();
        ok(sys::napi_coerce_to_string(self.env, v, &mut s))?;
        self.string(s)
    }

    unsafe fn ctor(&mut self, set: bool) -> R<sys::napi_value> {
        let slot = if set { self.set_ctor } else { self.map_ctor };
        if !slot.is_null() {
            return Ok(slot);
        }
        let mut global = ptr::null_mut();
        ok(sys::napi_get_global(self.env, &mut global))?;
        let c = self.named(global, if set { c"Set" } else { c"Map" })?;
        if set {
            self.set_ctor = c;
        } else {
            self.map_ctor = c;
        }
        Ok(c)
    }

    unsafe fn instance_of(&mut self, v: sys::napi_value, set: bool) -> R<bool> {
        let c = self.ctor(set)?;
        let mut r = false;
        ok(sys::napi_instanceof(self.env, v, c, &mut r))?;
        Ok(r)
    }

    unsafe fn value(&mut self, v: sys::napi_value, key: &str, depth: usize) -> R<Option<Value>> {
        use sys::ValueType as T;
        Ok(Some(match self.type_of(v)? {
            T::napi_undefined | T::napi_function | T::napi_symbol | T::napi_external => {
                return Ok(None)
            }
            T::napi_null => Value::Null,
            T::napi_boolean => {
                let mut b = false;
                ok(sys::napi_get_value_bool(self.env, v, &mut b))?;
                Value::Bool(b)
            }
            T::napi_number => {
                let mut f = 0f64;
                ok(sys::napi_get_value_double(self.env, v, &mut f))?;
                number(f)
            }
            T::napi_string => Value::String(self.string(v)?),
            T::napi_bigint => {
                let (mut n, mut lossless) = (0i64, false);
                ok(sys::napi_get_value_bigint_int64(
                    self.env,
                    v,
                    &mut n,
                    &mut lossless,
                ))?;
                if lossless && (-MAX_SAFE..=MAX_SAFE).contains(&n) {
                    Value::Number(Number::from(n))
                } else {
                    Value::String(self.coerce_string(v)?)
                }
            }
            T::napi_object => return self.object(v, key, depth).map(Some),
            _ => return Ok(None),
        }))
    }

    /// Like [`Walker::value`], but a failure inside becomes a marker so one
    /// bad member does not lose its siblings.
    unsafe fn member(&mut self, v: sys::napi_value, key: &str, depth: usize) -> Option<Value> {
        match self.value(v, key, depth) {
            Ok(v) => v,
            Err(Fail) => {
                clear_exception(self.env);
                Some(Value::String(UNSERIALIZABLE.into()))
            }
        }
    }

    unsafe fn object(&mut self, v: sys::napi_value, key: &str, depth: usize) -> R<Value> {
        if depth >= MAX_DEPTH {
            return Ok(Value::String(TRUNCATED.into()));
        }
        for &a in &self.ancestors {
            let mut same = false;
            ok(sys::napi_strict_equals(self.env, a, v, &mut same))?;
            if same {
                return Ok(Value::String(CIRCULAR.into()));
            }
        }
        self.ancestors.push(v);
        let out = self.object_inner(v, key, depth);
        self.ancestors.pop();
        out
    }

    unsafe fn object_inner(&mut self, v: sys::napi_value, key: &str, depth: usize) -> R<Value> {
        let env = self.env;
        let mut is = false;
        ok(sys::napi_is_array(env, v, &mut is))?;
        if is {
            return self.array(v, depth);
        }
        if let Some(bytes) = self.bytes(v)? {
            return Ok(Value::String(sealtrail_core::capture::values::bytes(bytes)));
        }
        // toJSON first, as JSON.stringify does (Date → ISO string).
        let to_json = self.named(v, c"toJSON")?;
        if self.type_of(to_json)? == sys::ValueType::napi_function {
            let mut k = ptr::null_mut();
            ok(sys::napi_create_string_utf8(
                env,
                key.as_ptr().cast(),
                key.len() as isize,
                &mut k,
            ))?;
            let mut r = ptr::null_mut();
            ok(sys::napi_call_function(env, v, to_json, 1, &k, &mut r))?;
            return Ok(self.value(r, key, depth + 1)?.unwrap_or(Value::Null));
        }
        ok(sys::napi_is_error(env, v, &mut is))?;
        if is {
            let mut m = Map::new();
            for (field, prop) in [("type", c"name"), ("message", c"message")] {
                let p = self.named(v, prop)?;
                if self.type_of(p)? != sys::ValueType::napi_undefined {
                    m.insert(field.into(), Value::String(self.coerce_string(p)?));
                }
            }
            return Ok(Value::Object(m));
        }
        if self.instance_of(v, false)? {
            return self.map(v, depth);
        }
        if self.instance_of(v, true)? {
            return self.set(v, depth);
        }
        self.plain(v, depth)
    }

    unsafe fn array(&mut self, v: sys::napi_value, depth: usize) -> R<Value> {
        let mut len = 0u32;
        ok(sys::napi_get_array_length(self.env, v, &mut len))?;
        let mut out = Vec::with_capacity(len as usize);
        for i in 0..len {
            let mut e = ptr::null_mut();
            ok(sys::napi_get_element(self.env, v, i, &mut e))?;
            out.push(
                self.member(e, &i.to_string(), depth + 1)
                    .unwrap_or(Value::Null),
            );
        }
        Ok(Value::Array(out))
    }

    unsafe fn plain(&mut self, v: sys::napi_value, depth: usize) -> R<Value> {
        let mut keys = ptr::null_mut();
        ok(sys::napi_get_all_property_names(
            self.env,
            v,
            sys::KeyCollectionMode::own_only,
            sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
            sys::KeyConversion::numbers_to_strings,
            &mut keys,
        ))?;
        let mut len = 0u32;
        ok(sys::napi_get_array_length(self.env, keys, &mut len))?;
        let mut out = Map::new();
        for i in 0..len {
            let mut k = ptr::null_mut();
            ok(sys::napi_get_element(self.env, keys, i, &mut k))?;
            let key = self.string(k)?;
            let mut e = ptr::null_mut();
            let got = ok(sys::napi_get_property(self.env, v, k, &mut e));
            let val = match got {
                Ok(()) => self.member(e, &key, depth + 1),
                Err(Fail) => {
                    clear_exception(self.env);
                    Some(Value::String(UNSERIALIZABLE.into()))
                }
            };
            if let Some(val) = val {
                out.insert(key, val);
            }
        }
        Ok(Value::Object(out))
    }

    /// Calls `v[method]()` and walks the iterator's values (Map and Set).
    unsafe fn iterate(
        &mut self,
        v: sys::napi_value,
        method: &std::ffi::CStr,
        mut each: impl FnMut(&mut Self, sys::napi_value) -> R<()>,
    ) -> R<()> {
        let f = self.named(v, method)?;
        let mut it = ptr::null_mut();
        ok(sys::napi_call_function(
            self.env,
            v,
            f,
            0,
            ptr::null(),
            &mut it,
        ))?;
        let next = self.named(it, c"next")?;
        loop {
            let mut step = ptr::null_mut();
            ok(sys::napi_call_function(
                self.env,
                it,
                next,
                0,
                ptr::null(),
                &mut step,
            ))?;
            let done = self.named(step, c"done")?;
            let mut d = false;
            ok(sys::napi_get_value_bool(self.env, done, &mut d))?;
            if d {
                return Ok(());
            }
            let value = self.named(step, c"value")?;
            each(self, value)?;
        }
    }

    unsafe fn map(&mut self, v: sys::napi_value, depth: usize) -> R<Value> {
        let mut out = Map::new();
        self.iterate(v, c"entries", |w, pair| {
            let mut k = ptr::null_mut();
            ok(sys::napi_get_element(w.env, pair, 0, &mut k))?;
            let mut val = ptr::null_mut();
            ok(sys::napi_get_element(w.env, pair, 1, &mut val))?;
            let key = if w.type_of(k)? == sys::ValueType::napi_string {
                w.string(k)?
            } else {
                match w.coerce_string(k) {
                    Ok(s) => s,
                    Err(Fail) => {
                        clear_exception(w.env);
                        UNSERIALIZABLE.to_string()
                    }
                }
            };
            if let Some(x) = w.member(val, &key, depth + 1) {
                out.insert(key, x);
            }
            Ok(())
        })?;
        Ok(Value::Object(out))
    }

    unsafe fn set(&mut self, v: sys::napi_value, depth: usize) -> R<Value> {
        let mut out = Vec::new();
        self.iterate(v, c"values", |w, val| {
            let i = out.len().to_string();
            out.push(w.member(val, &i, depth + 1).unwrap_or(Value::Null));
            Ok(())
        })?;
        out.sort_by_cached_key(sealtrail_core::jcs::to_vec);
        Ok(Value::Array(out))
    }

    /// The bytes of a Buffer, typed array, DataView or ArrayBuffer.
    unsafe fn bytes(&self, v: sys::napi_value) -> R<Option<&'static [u8]>> {
        let env = self.env;
        let mut is = false;
        let (mut data, mut len): (*mut std::ffi::c_void, usize) = (ptr::null_mut(), 0);
        ok(sys::napi_is_typedarray(env, v, &mut is))?;
        if is {
            let (mut t, mut n, mut ab, mut off) = (0, 0usize, ptr::null_mut(), 0usize);
            ok(sys::napi_get_typedarray_info(
                env, v, &mut t, &mut n, &mut data, &mut ab, &mut off,
            ))?;
            len = n * element_size(t);
        } else {
            ok(sys::napi_is_arraybuffer(env, v, &mut is))?;
            if is {
                ok(sys::napi_get_arraybuffer_info(env, v, &mut data, &mut len))?;
            } else {
                ok(sys::napi_is_dataview(env, v, &mut is))?;
                if !is {
                    return Ok(None);
                }
                let (mut ab, mut off) = (ptr::null_mut(), 0usize);
                ok(sys::napi_get_dataview_info(
                    env, v, &mut len, &mut data, &mut ab, &mut off,
                ))?;
            }
        }
        if data.is_null() || len == 0 {
            return Ok(Some(&[]));
        }
        // The slice is used before this napi call returns, while V8 keeps
        // the backing store alive.
        Ok(Some(std::slice::from_raw_parts(data.cast::<u8>(), len)))
    }
}

fn element_size(t: sys::napi_typedarray_type) -> usize {
    use sys::TypedarrayType as A;
    match t {
        A::int8_array | A::uint8_array | A::uint8_clamped_array => 1,
        A::int16_array | A::uint16_array => 2,
        A::int32_array | A::uint32_array | A::float32_array => 4,
        _ => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number(-0.0), Value::Number(0.into()));
        assert_eq!(number(f64::NAN), Value::Null);
        assert_eq!(number(1.5).to_string(), "1.5");
    }
}

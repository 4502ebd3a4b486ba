//! JSON text read as I-JSON (RFC 7493), which RFC 8785 requires: an object
//! member name that appears twice is refused instead of the last one winning
//! (serde_json's `Value` keeps the last silently). Every reader of event text
//! goes through here: the client, the server's ingest, the ledger reader and
//! the verifiers.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

/// Parses one JSON value, refusing duplicate member names at any depth.
/// Otherwise the same value as `serde_json::from_str::<Value>`.
pub fn from_str(text: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Strict.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Checks that `text` is exactly one JSON value with no duplicate member
/// name, without building it (for text that is kept as it is).
pub fn check_str(text: &str) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    CheckOnly.deserialize(&mut de)?;
    de.end()
}

fn duplicate<E: de::Error>(name: &str) -> E {
    E::custom(format_args!(
        "duplicate member name {name:?}: each name may appear once in an object (I-JSON, RFC 7493)"
    ))
}

/// Builds a `Value`, refusing duplicate member names.
#[derive(Clone, Copy)]
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element_seed(Strict)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            match out.entry(k) {
                Entry::Vacant(slot) => {
                    slot.insert(map.next_value_seed(Strict)?);
                }
                Entry::Occupied(dup) => return Err(duplicate(dup.key())),
            }
        }
        Ok(Value::Object(out))
    }
}

/// Walks a value, building nothing but each object's member names.
#[derive(Clone, Copy)]
struct CheckOnly;

impl<'de> DeserializeSeed<'de> for CheckOnly {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// A member name, borrowed from the text when it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Visitor<'de> for CheckOnly {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(CheckOnly)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Objects are small as a rule: a linear scan until they are not.
        let mut names: Vec<Cow<'de, str>> = Vec::new();
        let mut many: Option<std::collections::HashSet<Cow<'de, str>>> = None;
        while let Some(Name(k)) = map.next_key::<Name<'de>>()? {
            let fresh = match many.as_mut() {
                Some(set) => set.insert(k.clone()),
                None if names.contains(&k) => false,
                None => {
                    names.push(k.clone());
                    if names.len() > 16 {
                        many = Some(names.drain(..).collect());
                    }
                    true
                }
            };
            if !fresh {
                return Err(duplicate(&k));
            }
            map.next_value_seed(CheckOnly)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_refused_at_any_depth() {
        for text in [
            r#"{"type":"decision","type":"custom"}"#,
            r#"{"a":1,"b":{"x":1,"x":1}}"#,
            r#"[{"k":null,"k":null}]"#,
            r#"{"a":{"b":[1,{"c":{"d":1,"e":2,"d":3}}]}}"#,
            // Escapes spell the same name.
            r#"{"type":1,"\u0074ype":2}"#,
        ] {
            // serde_json alone takes it, the last member winning.
            assert!(
                serde_json::from_str::<Value>(text).is_ok(),
                "{text} is JSON"
            );
            let e = from_str(text).unwrap_err().to_string();
            assert!(e.contains("duplicate member name"), "{text}: {e}");
            let e = check_str(text).unwrap_err().to_string();
            assert!(e.contains("duplicate member name"), "{text}: {e}");
        }
    }

    #[test]
    fn wide_objects_checked_past_the_linear_scan() {
        let mut members: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let ok = format!("{{{}}}", members.join(","));
        check_str(&ok).unwrap();
        assert_eq!(from_str(&ok).unwrap().as_object().unwrap().len(), 40);
        members.push("\"k3\":0".into());
        let dup = format!("{{{}}}", members.join(","));
        assert!(check_str(&dup).is_err());
        assert!(from_str(&dup).is_err());
    }

    #[test]
    fn same_value_as_serde_json_otherwise() {
        for text in [
            r#"{"b":[1,-2,2.5,1e21,-0.0,9007199254740993,18446744073709551615],"a":{"":null,"é":true}}"#,
            r#""plain""#,
            "[]",
            " {\"x\" : [ {} , [] ] } ",
        ] {
            let want: Value = serde_json::from_str(text).unwrap();
            assert_eq!(from_str(text).unwrap(), want, "{text}");
            check_str(text).unwrap();
        }
        for bad in ["{\"a\":1} x", "{\"a\":}", "[1,]", "NaN", "{\"a\":1,}"] {
            assert!(from_str(bad).is_err(), "{bad}");
            assert!(check_str(bad).is_err(), "{bad}");
        }
    }
}

//! Splits a batch body `{"events": [e0, e1, ...]}` into the raw bytes of
//! each element without parsing them, so that one malformed event (bad JSON,
//! invalid UTF-8, too deep) is refused on its own with its index while the
//! others are still stored.

use sealtrail_core::event::string_end;

/// The byte ranges of the elements of the `events` array, or why the body
/// is not a batch at all.
pub fn split_batch(b: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return Err("the body must be a JSON object {\"events\": [...]}".into());
    }
    i = skip_ws(b, i + 1);
    let mut events = None;
    if b.get(i) == Some(&b'}') {
        return Err("the body has no \"events\" array".into());
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return Err(format!("expected a key at byte {i}"));
        }
        let end = string_end(b, i).ok_or("unterminated key")?;
        let key: String =
            serde_json::from_slice(&b[i..end]).map_err(|e| format!("bad key at byte {i}: {e}"))?;
        i = skip_ws(b, end);
        if b.get(i) != Some(&b':') {
            return Err(format!("expected ':' at byte {i}"));
        }
        i = skip_ws(b, i + 1);
        if key != "events" {
            return Err(format!(
                "unknown field {key:?}; a batch is {{\"events\": [...]}}"
            ));
        }
        if events.is_some() {
            return Err("\"events\" appears twice".into());
        }
        let (items, next) = split_array(b, i)?;
        events = Some(items);
        i = skip_ws(b, next);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => {
                i = skip_ws(b, i + 1);
                break;
            }
            _ => return Err(format!("expected ',' or '}}' at byte {i}")),
        }
    }
    if i != b.len() {
        return Err(format!("trailing bytes after the batch at byte {i}"));
    }
    events.ok_or_else(|| "the body has no \"events\" array".into())
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

fn split_array(b: &[u8], mut i: usize) -> Result<(Vec<&[u8]>, usize), String> {
    if b.get(i) != Some(&b'[') {
        return Err("\"events\" must be an array".into());
    }
    i = skip_ws(b, i + 1);
    let mut items = Vec::new();
    if b.get(i) == Some(&b']') {
        return Ok((items, i + 1));
    }
    loop {
        let start = i;
        let mut depth = 0usize;
        // Scan one value: strings skipped, brackets counted.
        loop {
            match b.get(i) {
                None => return Err("the events array is not closed".into()),
                Some(b'"') => i = string_end(b, i).ok_or("unterminated string in events")?,
                Some(b'[') | Some(b'{') => {
                    depth += 1;
                    i += 1;
                }
                Some(b']') | Some(b'}') => {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                    i += 1;
                }
                Some(b',') if depth == 0 => break,
                Some(_) => i += 1,
            }
        }
        let mut end = i;
        while end > start && matches!(b[end - 1], b' ' | b'\t' | b'\n' | b'\r') {
            end -= 1;
        }
        items.push(&b[start..end]);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b']') => return Ok((items, i + 1)),
            _ => return Err(format!("unbalanced brackets in events near byte {i}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_elements() {
        let b = br#" { "events" : [ {"a":"]},"} , [1,[2]], "x\"y" ,3 ] } "#;
        let v = split_batch(b).unwrap();
        let v: Vec<&str> = v.iter().map(|s| std::str::from_utf8(s).unwrap()).collect();
        assert_eq!(v, vec![r#"{"a":"]},"}"#, "[1,[2]]", r#""x\"y""#, "3"]);
        assert!(split_batch(br#"{"events":[]}"#).unwrap().is_empty());
    }

    #[test]
    fn keeps_invalid_utf8_inside_one_element() {
        let mut b = br#"{"events":[{"a":"xx"},{"b":1}]}"#.to_vec();
        b[17] = 0xff;
        let v = split_batch(&b).unwrap();
        assert_eq!(v.len(), 2);
        assert!(std::str::from_utf8(v[0]).is_err());
    }

    #[test]
    fn refuses_non_batches() {
        for bad in [
            &b"[]"[..],
            b"{}",
            b"{\"events\":1}",
            b"{\"events\":[1",
            b"{\"other\":[]}",
            b"{\"events\":[]} x",
        ] {
            assert!(
                split_batch(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}

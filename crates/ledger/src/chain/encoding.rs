//! The canonical encoding of one chain link: netstrings
//! (`<length in bytes>:<bytes>,`) of the link's seq, table, record id,
//! event and time, then each field's name and value as stored. Small
//! enough to recompute in a few lines of any language; no float is ever
//! printed as text (a real is its IEEE-754 bits).

/// A value as SQLite stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    fn encoded(&self) -> String {
        match self {
            Value::Null => "n".into(),
            Value::Integer(i) => format!("i{i}"),
            Value::Real(f) => format!("r{:016x}", f.to_bits()),
            Value::Text(s) => format!("t{s}"),
            Value::Blob(b) => format!("b{}", hex::encode(b)),
        }
    }
}

fn netstring(out: &mut String, s: &str) {
    out.push_str(&s.len().to_string());
    out.push(':');
    out.push_str(s);
    out.push(',');
}

/// The encoding of a link; `fields` None: the record could not be read
/// (encoded as one item, `absent`).
pub fn encode(
    seq: i64,
    table: &str,
    record_id: i64,
    event: &str,
    recorded_at: &str,
    fields: Option<&[(String, Value)]>,
) -> String {
    let mut out = String::new();
    netstring(&mut out, &seq.to_string());
    netstring(&mut out, table);
    netstring(&mut out, &record_id.to_string());
    netstring(&mut out, event);
    netstring(&mut out, recorded_at);
    match fields {
        Some(fields) => {
            for (name, v) in fields {
                netstring(&mut out, name);
                netstring(&mut out, &v.encoded());
            }
        }
        None => netstring(&mut out, "absent"),
    }
    out
}

/// The items of an encoding back, for saying which field differs (None:
/// not a well-formed encoding).
pub(crate) fn items(mut s: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    while !s.is_empty() {
        let colon = s.find(':')?;
        let len: usize = s[..colon].parse().ok()?;
        let start = colon + 1;
        let item = s.get(start..start + len)?;
        if s.as_bytes().get(start + len) != Some(&b',') {
            return None;
        }
        out.push(item);
        s = &s[start + len + 1..];
    }
    Some(out)
}

/// Field → encoded value of an encoding (the pairs after the five heads).
pub(crate) fn fields_of(s: &str) -> Option<Vec<(&str, &str)>> {
    let items = items(s)?;
    let rest = items.get(5..)?;
    if rest.len() % 2 != 0 {
        return Some(vec![("absent", "")]);
    }
    Some(rest.chunks(2).map(|p| (p[0], p[1])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoding_is_netstrings_of_the_heads_then_the_fields() {
        let e = encode(
            7,
            "outages",
            3,
            "close",
            "2026-01-01T00:00:00.000Z",
            Some(&[
                (
                    "end_at".into(),
                    Value::Text("2026-01-01T00:01:00.500Z".into()),
                ),
                ("end_after".into(), Value::Null),
                ("run_closed".into(), Value::Integer(2)),
                ("x".into(), Value::Real(0.5)),
                ("y".into(), Value::Blob(vec![0, 255])),
                ("z".into(), Value::Text("线路".into())),
            ]),
        );
        assert_eq!(
            e,
            "1:7,7:outages,1:3,5:close,24:2026-01-01T00:00:00.000Z,6:end_at,25:t2026-01-01T00:01:00.500Z,9:end_after,1:n,10:run_closed,2:i2,1:x,17:r3fe0000000000000,1:y,5:b00ff,1:z,7:t线路,"
        );
        let f = fields_of(&e).unwrap();
        assert_eq!(f[0], ("end_at", "t2026-01-01T00:01:00.500Z"));
        assert_eq!(f[5], ("z", "t线路"));
    }

    #[test]
    fn malformed_encodings_are_refused() {
        assert!(items("3:ab,").is_none());
        assert!(items("2:ab;").is_none());
        assert!(items("x:ab,").is_none());
        assert_eq!(items("").unwrap().len(), 0);
    }
}

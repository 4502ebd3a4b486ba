//! PostgreSQL's binary `COPY` format, for the few types the events table
//! uses. Binary `COPY` is the cheapest way into a table: rows go through the
//! multi-insert path (one WAL record per page, not per row) and no value is
//! printed or parsed as text on either side.

use uuid::Uuid;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// One `COPY ... FROM STDIN (FORMAT binary)` stream being written.
pub struct CopyBinary {
    buf: Vec<u8>,
}

impl CopyBinary {
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes + 32);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        CopyBinary { buf }
    }

    /// Starts a row of `fields` values.
    pub fn row(&mut self, fields: i16) {
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }

    pub fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
    }

    /// A value written by `f` straight into the stream, its length filled in after.
    fn with_len(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        f(&mut self.buf);
        let len = (self.buf.len() - at - 4) as i32;
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    pub fn uuid(&mut self, u: &Uuid) {
        self.raw(u.as_bytes());
    }

    pub fn text(&mut self, s: &str) {
        self.raw(s.as_bytes());
    }

    pub fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    pub fn int8(&mut self, v: i64) {
        self.raw(&v.to_be_bytes());
    }

    pub fn opt_int8(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.int8(v),
            None => self.null(),
        }
    }

    /// A `timestamptz` from microseconds since the Unix epoch.
    pub fn timestamptz_unix_micros(&mut self, us: i64) {
        self.int8(us - PG_EPOCH_OFFSET_MICROS);
    }

    pub fn bytea(&mut self, b: &[u8]) {
        self.raw(b);
    }

    /// A `json` value: its binary form is the JSON text.
    pub fn json(&mut self, text: &[u8]) {
        self.raw(text);
    }

    /// A value in the type's own binary form, written by `f`.
    pub fn custom(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        self.with_len(f);
    }

    /// A row already in binary form (its field count, then its fields), as
    /// `COPY ... TO STDOUT (FORMAT binary)` gives it.
    pub fn encoded_row(&mut self, row: &[u8]) {
        self.buf.extend_from_slice(row);
    }

    /// The whole stream, with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

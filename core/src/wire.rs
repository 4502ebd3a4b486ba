//! The ingest wire format shared by the client pipeline and the server:
//! `POST /v1/events` takes an [`IngestBatch`] and answers an
//! [`IngestResponse`].
//!
//! Status codes: 200 when every event was stored (or was a duplicate), 207
//! when some were stored and some refused, 422 when none was stored because
//! every event was refused (`errors` names each), 400 for a body that is not
//! a batch at all, 413 for a body or batch over the limits. In every 2xx and
//! 422 answer, `receipts` are delivered and `errors` are rejected for good:
//! resending them cannot succeed.

use serde::{Deserialize, Serialize};

use crate::event::{EventId, SealedEvent};
use crate::hash::Hash;

/// Most events in one batch.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Largest batch body, after decompression: 16 MiB.
pub const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// The body of `POST /v1/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestBatch {
    pub events: Vec<SealedEvent>,
}

/// The answer to a batch.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IngestResponse {
    /// One per event stored now or before, in batch order.
    #[serde(default)]
    pub receipts: Vec<Receipt>,
    /// One per event refused, in batch order.
    #[serde(default)]
    pub errors: Vec<EventError>,
}

/// Proof that an event is in its chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub id: EventId,
    pub seq: u64,
    /// The link hash of the event in its chain.
    pub hash: Hash,
    /// The event had been stored before (a replay); this is its first receipt.
    #[serde(default)]
    pub duplicate: bool,
}

/// Why one event of a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventError {
    /// Position of the event in the batch, from 0.
    pub index: usize,
    /// The event's id, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A stable kind (`ErrorKind::as_str()`), e.g. `invalid_event`.
    pub error: String,
    /// What was wrong and what to do.
    #[serde(default)]
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_shape() {
        let r = IngestResponse {
            receipts: vec![Receipt {
                id: "01JD0000000000000000000000".parse().unwrap(),
                seq: 1,
                hash: Hash::ZERO,
                duplicate: false,
            }],
            errors: vec![EventError {
                index: 1,
                id: None,
                error: "invalid_event".into(),
                detail: "x".into(),
            }],
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["receipts"][0]["id"], "01JD0000000000000000000000");
        assert_eq!(v["receipts"][0]["seq"], 1);
        assert_eq!(v["errors"][0]["index"], 1);
        assert!(v["errors"][0].get("id").is_none());
        let back: IngestResponse = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }
}

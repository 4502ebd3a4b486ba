//! Work counters, so that tests can prove each detector linear by counting
//! what it reads instead of timing it (habit 16). Every loop of a detector
//! that reads the text adds the bytes it read, once per loop (not per byte),
//! to a per-thread counter of its stage; [`Redactor::count_steps`] reads
//! them around one call. The cost is one thread-local add per validator
//! call.
//!
//! [`Redactor::count_steps`]: super::Redactor::count_steps

use std::cell::Cell;

#[derive(Clone, Copy)]
pub(crate) enum Stage {
    /// The Aho-Corasick pass over prefixes and key names, and its validators.
    Secrets = 0,
    /// The bitmap pass and its validators (email, phone, card, SSN, IBAN, IPv4).
    Scan = 1,
    /// The IPv6 pass.
    Ipv6 = 2,
    /// Bytes handed to the custom regexes.
    Custom = 3,
}

thread_local! {
    static STEPS: [Cell<u64>; 4] = const { [const { Cell::new(0) }; 4] };
}

#[inline]
pub(crate) fn add(stage: Stage, n: usize) {
    STEPS.with(|s| {
        let c = &s[stage as usize];
        c.set(c.get().wrapping_add(n as u64));
    });
}

pub(crate) fn take() -> [u64; 4] {
    STEPS.with(|s| [s[0].take(), s[1].take(), s[2].take(), s[3].take()])
}

/// What one redaction call read, by stage (see [`Redactor::count_steps`]).
///
/// [`Redactor::count_steps`]: super::Redactor::count_steps
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanSteps {
    pub secrets: u64,
    pub scan: u64,
    pub ipv6: u64,
    pub custom: u64,
}

impl ScanSteps {
    pub fn total(&self) -> u64 {
        self.secrets + self.scan + self.ipv6 + self.custom
    }
}

impl From<[u64; 4]> for ScanSteps {
    fn from(s: [u64; 4]) -> Self {
        ScanSteps {
            secrets: s[0],
            scan: s[1],
            ipv6: s[2],
            custom: s[3],
        }
    }
}

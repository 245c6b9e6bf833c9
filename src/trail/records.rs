//! The compact records the pass keeps: a KMS call S3 made ([`KmsRec`]), an S3 request
//! ([`S3Rec`]), any caller's symmetric KMS call ([`CallRec`]); strings are interned symbols.

use crate::event::{Failure, KmsOp, Mode, S3Op};
use crate::intern::{Remap, Sym};
use serde::{Deserialize, Serialize};

/// A KMS call kept for correlation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KmsRec {
    pub time: i64,
    pub requester: Sym,
    pub bucket: Sym,
    pub key: Sym,
    pub op: KmsOp,
    pub mode: Mode,
    pub kms_key: Sym,
    pub head: Sym,
    pub account: Sym,
    pub region: Sym,
    pub failure: Failure,
    pub ctx_pass: bool,
    pub ctx_value: Sym,
    #[serde(with = "hex128")]
    pub id: u128,
    /// `sharedEventID`: the same call delivered to a second account (0: none).
    #[serde(with = "hex128")]
    pub shared: u128,
}

/// An S3 object request kept for correlation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct S3Rec {
    pub time: i64,
    pub requester: Sym,
    pub bucket: Sym,
    pub key: Sym,
    pub op: S3Op,
    pub kms_key: Sym,
    pub bucket_key: Option<bool>,
    /// DSSE-KMS, as its SSE headers say.
    #[serde(default)]
    pub dsse: bool,
    pub head: Sym,
    pub account: Sym,
    pub region: Sym,
    pub failure: Failure,
    pub src_bucket: Sym,
    pub src_key: Sym,
    #[serde(with = "hex128")]
    pub id: u128,
    /// `sharedEventID`: the same request delivered to a second account (0: none).
    #[serde(with = "hex128")]
    pub shared: u128,
}

impl KmsRec {
    /// Every symbol it holds.
    pub fn symbols_mut(&mut self) -> [&mut Sym; 8] {
        [
            &mut self.requester,
            &mut self.bucket,
            &mut self.key,
            &mut self.kms_key,
            &mut self.head,
            &mut self.account,
            &mut self.region,
            &mut self.ctx_value,
        ]
    }

    /// Renumbers its symbols through `r`.
    pub fn remap(&mut self, r: &Remap) {
        for s in self.symbols_mut() {
            *s = r.apply(*s);
        }
    }
}

impl S3Rec {
    /// Every symbol it holds.
    pub fn symbols_mut(&mut self) -> [&mut Sym; 9] {
        [
            &mut self.requester,
            &mut self.bucket,
            &mut self.key,
            &mut self.kms_key,
            &mut self.head,
            &mut self.account,
            &mut self.region,
            &mut self.src_bucket,
            &mut self.src_key,
        ]
    }

    /// Renumbers its symbols through `r`.
    pub fn remap(&mut self, r: &Remap) {
        for s in self.symbols_mut() {
            *s = r.apply(*s);
        }
    }
}

/// A symmetric KMS call of any caller, kept for cost and quota (which count every caller).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CallRec {
    pub time: i64,
    /// The caller's account: the one billed, and whose quota the call spends.
    pub account: Sym,
    pub region: Sym,
    pub op: KmsOp,
    pub failure: Failure,
    pub kms_key: Sym,
    pub requester: Sym,
    /// The service that called for the requester (`invokedBy`), or `(direct)`.
    pub caller: Sym,
    /// The bucket, for calls S3 made for objects; else `Sym::NONE`.
    pub bucket: Sym,
    /// `s3`, or the first encryption-context key of another caller's call.
    pub purpose: Sym,
    /// For S3's calls: bucket key or per object.
    pub mode: Mode,
    /// The request named the key by an AWS managed alias.
    pub aws_managed: bool,
    #[serde(with = "hex128")]
    pub id: u128,
    /// `sharedEventID`: the same call logged in a second account.
    #[serde(with = "hex128")]
    pub shared: u128,
}

impl CallRec {
    /// Every symbol it holds.
    pub fn symbols_mut(&mut self) -> [&mut Sym; 7] {
        [
            &mut self.account,
            &mut self.region,
            &mut self.kms_key,
            &mut self.requester,
            &mut self.caller,
            &mut self.bucket,
            &mut self.purpose,
        ]
    }

    /// Renumbers its symbols through `r`.
    pub fn remap(&mut self, r: &Remap) {
        for s in self.symbols_mut() {
            *s = r.apply(*s);
        }
    }
}

/// An S3 request the trail shows is not SSE-KMS (SSE-S3, SSE-C): not an S3Rec, but kept to be
/// counted once (deduplicated like every event) and, for a write, to say that reads of its
/// object until the next SSE-KMS write cause no KMS call either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NonKms {
    pub time: i64,
    pub bucket: Sym,
    pub key: Sym,
    /// A successful write (it set the object's encryption).
    pub write: bool,
    /// [`event_id`](super::read::event_id) of its `eventID` and `sharedEventID` (0: none).
    pub id: u128,
    pub shared: u128,
}

impl NonKms {
    /// Renumbers its symbols through `r`.
    pub fn remap(&mut self, r: &Remap) {
        self.bucket = r.apply(self.bucket);
        self.key = r.apply(self.key);
    }
}

/// Event IDs as 32 hex digits (a UUID's bits, or a hash of another ID; 0 for none): 128-bit
/// numbers are not portable JSON.
mod hex128 {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:032x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let text = String::deserialize(d)?;
        u128::from_str_radix(&text, 16).map_err(D::Error::custom)
    }
}

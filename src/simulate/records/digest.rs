//! Digest files (`CloudTrail-Digest/`).

use super::*;

/// What a digest file (`CloudTrail-Digest/`) says: the first of its chain, no log files listed
/// (keytrail skips digests by name and by shape, and never reads them).
pub struct Digest<'a> {
    pub account: &'a str,
    pub start_time: &'a str,
    pub end_time: &'a str,
    pub bucket: &'a str,
    pub object: &'a str,
    pub fingerprint: &'a str,
    pub newest_event_time: &'a str,
    pub oldest_event_time: &'a str,
    pub file_count: u32,
}

/// The JSON of a digest document, fields in delivered order.
pub fn digest(d: &Digest<'_>) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Document<'a> {
        aws_account_id: &'a str,
        digest_start_time: &'a str,
        digest_end_time: &'a str,
        #[serde(rename = "digestS3Bucket")]
        digest_s3_bucket: &'a str,
        #[serde(rename = "digestS3Object")]
        digest_s3_object: &'a str,
        digest_public_key_fingerprint: &'a str,
        digest_signature_algorithm: &'a str,
        newest_event_time: &'a str,
        oldest_event_time: &'a str,
        #[serde(rename = "previousDigestS3Bucket")]
        previous_digest_s3_bucket: Option<&'a str>,
        #[serde(rename = "previousDigestS3Object")]
        previous_digest_s3_object: Option<&'a str>,
        previous_digest_hash_value: Option<&'a str>,
        previous_digest_hash_algorithm: Option<&'a str>,
        previous_digest_signature: Option<&'a str>,
        log_files: [(); 0],
        file_count: u32,
    }
    serde_json::to_vec(&Document {
        aws_account_id: d.account,
        digest_start_time: d.start_time,
        digest_end_time: d.end_time,
        digest_s3_bucket: d.bucket,
        digest_s3_object: d.object,
        digest_public_key_fingerprint: d.fingerprint,
        digest_signature_algorithm: "SHA256withRSA",
        newest_event_time: d.newest_event_time,
        oldest_event_time: d.oldest_event_time,
        previous_digest_s3_bucket: None,
        previous_digest_s3_object: None,
        previous_digest_hash_value: None,
        previous_digest_hash_algorithm: None,
        previous_digest_signature: None,
        log_files: [],
        file_count: d.file_count,
    })
    .expect("a digest serialises")
}

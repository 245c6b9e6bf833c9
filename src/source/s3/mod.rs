//! Reading trails where they live: `s3://bucket[/prefix]`, listed by the delivered layout and
//! read many objects at a time.
//!
//! Listing descends the prefix folder by folder (LIST with a `/` delimiter, many folders at a
//! time), and asks [`path_skip`] of each folder before listing it: `--account`, `--region` and
//! `--since`/`--until` prune whole accounts, Regions, years, months and days, and Digest,
//! Insight and Lake folders are never listed. Objects are fetched with a bounded number of GETs
//! in flight, each one whole into memory (CloudTrail files are small), and handed to the same
//! decoding as local files; nothing is written anywhere, ever.
//!
//! The client is `object_store`'s: SigV4, the credential chain of the environment (keys, web
//! identity, container and instance metadata), `AWS_ENDPOINT_URL[_S3]`, and retries with
//! backoff on throttling, timeouts and dropped connections. Shared config and credentials files
//! (`--profile`, `AWS_PROFILE`) are read here (`profile`), and what `object_store` does not
//! resolve of them is added in `credentials`: assumed roles, IAM Identity Center (SSO) and
//! `credential_process`.

use super::{path_skip, Prune};
use crate::summary::{S3Summary, Summary};
use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsCredentialProvider};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, RetryConfig};
use profile::Profile;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// GETs in flight by default: many small objects are the common case, and each GET waits
/// mostly on the network. Measured with `benches/s3.rs` through a proxy adding a 20 ms round
/// trip (an S3 GET's first byte takes 10 to 50 ms in Region): 32 in flight read 1,031 small
/// objects a second, 128 read 2,205 and 512 read 2,293 (the server's CPU the bound); on loopback
/// alone 128 cost no more than 32. docs/speed.md has the table.
pub const DEFAULT_CONCURRENCY: u64 = 128;

/// LISTs in flight at most (fewer when `--s3-requests` is lower): listing walks the delivered
/// layout one folder per request, and an organization's month is thousands of day folders.
pub const MAX_LISTS_IN_FLIGHT: usize = 32;

/// Bytes of S3 objects held at once by default (MiB): fetched or being fetched and not yet
/// decoded. GETs in flight times the largest object would otherwise bound memory, and a busy
/// account's files reach tens of MB: 128 of those are gigabytes. A GET starts only when its
/// object (its size from the listing) fits in what the decoders have not yet released; one
/// larger than the whole budget waits until it has the budget to itself.
pub const DEFAULT_BUFFER_MIB: u64 = 256;

/// `s3://bucket[/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    /// The key prefix, without a leading `/` (empty for the whole bucket).
    pub prefix: String,
}

impl S3Url {
    /// Parses `s3://bucket[/prefix]`; `None` when `text` is not an `s3://` URL at all.
    pub fn parse(text: &str) -> Option<Result<S3Url, S3Error>> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        Some(if valid {
            Ok(S3Url {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            })
        } else {
            Err(S3Error::BadUrl(format!(
                "{text}: {bucket:?} is not a bucket name (3 to 63 of a-z 0-9 . -): \
                 write s3://BUCKET/PREFIX"
            )))
        })
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// One object to read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct S3Object {
    pub bucket: String,
    pub key: String,
}

impl std::fmt::Display for S3Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// What cannot be listed or configured.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("{0}")]
    BadUrl(String),
    #[error("{0}")]
    Config(String),
    #[error("cannot list {url}: {message}")]
    List { url: String, message: String },
    /// The run was cancelled (Ctrl-C) while listing.
    #[error("interrupted while listing")]
    Cancelled,
}

/// Waits for `work`, or until `cancelled` says so (polled every 50 ms), whichever comes first:
/// `None` then. A request that hangs (a stalled connection, retries backing off) does not hold
/// Ctrl-C up.
async fn unless_cancelled<F: std::future::Future>(
    work: F,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Option<F::Output> {
    let watch = async {
        while !cancelled() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    futures::pin_mut!(work);
    futures::pin_mut!(watch);
    match futures::future::select(work, watch).await {
        futures::future::Either::Left((out, _)) => Some(out),
        futures::future::Either::Right(_) => None,
    }
}

/// How to reach S3: the user's options; the rest comes from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// `--endpoint-url`, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`: an S3-compatible
    /// store (path-style requests; `http://` allowed).
    pub endpoint_url: Option<String>,
    /// `--profile`, else `AWS_PROFILE`: a profile of the shared config and credentials files.
    pub profile: Option<String>,
    /// `--request-payer`: the requester pays for the requests and the transfer.
    pub requester_pays: bool,
    /// GETs in flight.
    pub concurrency: usize,
    /// Bytes of objects fetched or being fetched and not yet decoded, at most (a single larger
    /// object is read alone).
    pub buffer_bytes: u64,
}

impl Default for S3Settings {
    fn default() -> Self {
        S3Settings {
            endpoint_url: None,
            profile: None,
            requester_pays: false,
            concurrency: DEFAULT_CONCURRENCY as usize,
            buffer_bytes: DEFAULT_BUFFER_MIB << 20,
        }
    }
}

/// One object as fetched, handed to a decoder: its bytes, or why it could not be read. Its
/// share of the buffer budget ([`S3Settings::buffer_bytes`]) is released when it is dropped,
/// after decoding.
pub struct Fetched {
    pub object: S3Object,
    /// Its size as listed.
    pub size: u64,
    pub got: Result<bytes::Bytes, String>,
    _budget: tokio::sync::OwnedSemaphorePermit,
}

/// Requests made, counted as they are made.
#[derive(Debug, Default)]
pub struct S3Counters {
    pub list_requests: AtomicU64,
    pub get_requests: AtomicU64,
    pub bytes: AtomicU64,
}

/// Lists and reads S3 objects, on a runtime of its own: one thread, which drives every request
/// in flight (a multi-threaded runtime handed each response from thread to thread: on 20,000
/// small objects from a loopback server it spent half again as much CPU, most of it in the
/// kernel's thread wake-ups, docs/speed.md).
pub struct S3Reader {
    runtime: tokio::runtime::Runtime,
    settings: S3Settings,
    stores: Mutex<HashMap<String, Arc<AmazonS3>>>,
    credentials: Mutex<Option<(Option<Profile>, Option<AwsCredentialProvider>)>>,
    pub counters: S3Counters,
}

impl S3Reader {
    pub fn new(settings: S3Settings) -> Result<S3Reader, S3Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .thread_name("keytrail-s3")
            .enable_all()
            .build()
            .map_err(|e| S3Error::Config(format!("cannot start the S3 client: {e}")))?;
        Ok(S3Reader {
            runtime,
            settings,
            stores: Mutex::new(HashMap::new()),
            credentials: Mutex::new(None),
            counters: S3Counters::default(),
        })
    }

    /// The profile that applies and its credentials, resolved once for every bucket (a role is
    /// assumed once a run). A profile named explicitly wins over keys in the environment, as the
    /// AWS CLI does; else the environment's keys, else AWS_PROFILE's or the default profile's;
    /// without credentials there, the rest of `object_store`'s chain (web identity, container,
    /// instance metadata).
    fn credentials(&self) -> Result<(Option<Profile>, Option<AwsCredentialProvider>), S3Error> {
        let mut resolved = self.credentials.lock().expect("not poisoned");
        if let Some(r) = resolved.as_ref() {
            return Ok(r.clone());
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let files = profile::Files::read();
        let profile = match (&self.settings.profile, env("AWS_PROFILE")) {
            (Some(name), _) => Some(files.load(name)?),
            (None, _) if env("AWS_ACCESS_KEY_ID").is_some() => None,
            (None, Some(name)) => Some(files.load(&name)?),
            (None, None) => files.find("default"),
        };
        let provider = match &profile {
            Some(p) => credentials::for_profile(&files, p)?,
            None => None,
        };
        *resolved = Some((profile.clone(), provider.clone()));
        Ok((profile, provider))
    }

    /// The client of one bucket, built on first use.
    fn store(&self, bucket: &str) -> Result<Arc<AmazonS3>, S3Error> {
        let mut stores = self.stores.lock().expect("not poisoned");
        if let Some(s) = stores.get(bucket) {
            return Ok(s.clone());
        }
        let store = Arc::new(self.build(bucket)?);
        stores.insert(bucket.to_string(), store.clone());
        Ok(store)
    }

    fn build(&self, bucket: &str) -> Result<AmazonS3, S3Error> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let endpoint = self
            .settings
            .endpoint_url
            .clone()
            .or_else(|| env("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env("AWS_ENDPOINT_URL"));
        let (profile, provider) = self.credentials()?;
        let mut b = match provider {
            // Only the profile's credentials: none of the environment's.
            Some(provider) => AmazonS3Builder::new().with_credentials(provider),
            None => AmazonS3Builder::from_env(),
        }
        .with_bucket_name(bucket);
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| profile.as_ref().and_then(|p| p.get("region")));
        if let Some(url) = &endpoint {
            b = b
                .with_endpoint(url.clone())
                .with_allow_http(url.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let region = match region {
            Some(r) => r,
            // An S3-compatible store has no Regions to look up; AWS tells a bucket's.
            None if endpoint.is_some() => "us-east-1".to_string(),
            None => self
                .runtime
                .block_on(object_store::aws::resolve_bucket_region(
                    bucket,
                    &Default::default(),
                ))
                .map_err(|e| {
                    S3Error::Config(format!(
                        "s3://{bucket}: cannot find the bucket's Region ({e}); set AWS_REGION"
                    ))
                })?,
        };
        b = b
            .with_region(region)
            .with_request_payer(self.settings.requester_pays)
            .with_retry(RetryConfig {
                max_retries: 8,
                retry_timeout: Duration::from_secs(120),
                ..RetryConfig::default()
            });
        b.build()
            .map_err(|e| S3Error::Config(format!("s3://{bucket}: {e}")))
    }

    /// Lists every object under `url` that the layout does not rule out, in key order: objects
    /// skipped by their key are counted in `summary` as a walk counts files, folders never
    /// listed in its `s3` section. `listed` hears, after each LIST, how many folders this call
    /// has listed and how many objects it has kept (for a progress line: an organization's month
    /// is thousands of folders). Stops with [`S3Error::Cancelled`] as soon as `cancelled` says
    /// so.
    pub fn list(
        &self,
        url: &S3Url,
        prune: &Prune,
        summary: &mut Summary,
        listed: &(dyn Fn(u64, u64) + Sync),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<Vec<(S3Object, u64)>, S3Error> {
        let mut stats = summary.s3.take().unwrap_or_default();
        let listed = self.list_into(url, prune, summary, &mut stats, listed, cancelled);
        summary.s3 = Some(stats);
        listed
    }

    fn list_into(
        &self,
        url: &S3Url,
        prune: &Prune,
        summary: &mut Summary,
        stats: &mut S3Summary,
        listed: &(dyn Fn(u64, u64) + Sync),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<Vec<(S3Object, u64)>, S3Error> {
        let store = self.store(&url.bucket)?;
        let mut out = Vec::new();
        // The prefix may end inside a folder name (`AWSLogs/1111`): list its folder and keep
        // what starts with it.
        let (top, partial) = match url.prefix.rfind('/') {
            Some(i) => (url.prefix[..i].to_string(), url.prefix[i + 1..].to_string()),
            None => (String::new(), url.prefix.clone()),
        };
        // Folders are listed many at a time: an organization's month is thousands of day
        // folders, and one LIST after another would wait a round trip each.
        let in_flight = self.settings.concurrency.clamp(1, MAX_LISTS_IN_FLIGHT);
        let list = |folder: String| {
            let store = store.clone();
            async move {
                let path = (!folder.is_empty()).then(|| StorePath::from(folder.as_str()));
                let listing = store.list_with_delimiter(path.as_ref()).await;
                (folder, listing)
            }
        };
        let mut todo = vec![top.clone()];
        let mut failed: Option<(String, String)> = None;
        let mut folders_listed = 0;
        self.runtime.block_on(async {
            let mut listing = futures::stream::FuturesUnordered::new();
            loop {
                while failed.is_none() && listing.len() < in_flight {
                    match todo.pop() {
                        Some(folder) => listing.push(list(folder)),
                        None => break,
                    }
                }
                let Some((folder, result)) = unless_cancelled(listing.next(), cancelled)
                    .await
                    .ok_or(S3Error::Cancelled)?
                else {
                    return Ok(());
                };
                self.counters.list_requests.fetch_add(1, Ordering::Relaxed);
                stats.list_requests += 1;
                folders_listed += 1;
                let listing = match result {
                    Ok(l) => l,
                    Err(e) => {
                        // Of several folders that cannot be listed, the first in key order is
                        // named, whichever answered first.
                        let error = (folder, describe(&e));
                        if failed.as_ref().is_none_or(|f| error.0 < f.0) {
                            failed = Some(error);
                        }
                        continue;
                    }
                };
                let first = folder == top;
                let keep = |name: &str| !first || name.starts_with(partial.as_str());
                for p in listing.common_prefixes {
                    let key = p.as_ref().to_string();
                    let name = key.rsplit('/').next().unwrap_or(&key);
                    if !keep(name) {
                        continue;
                    }
                    let parts: Vec<&str> = key.split('/').collect();
                    match path_skip(&parts, prune, true) {
                        Some(why) => {
                            *stats.prefixes_pruned.entry(why.to_string()).or_default() += 1
                        }
                        None => todo.push(key),
                    }
                }
                for meta in listing.objects {
                    let key = meta.location.as_ref().to_string();
                    let name = key.rsplit('/').next().unwrap_or(&key);
                    if !keep(name) {
                        continue;
                    }
                    let parts: Vec<&str> = key.split('/').collect();
                    match path_skip(&parts, prune, false) {
                        Some(why) => summary.skip_file(why),
                        None => out.push((
                            S3Object {
                                bucket: url.bucket.clone(),
                                key,
                            },
                            meta.size,
                        )),
                    }
                }
                listed(folders_listed, out.len() as u64);
            }
        })?;
        if let Some((folder, message)) = failed {
            return Err(S3Error::List {
                url: format!("s3://{}/{folder}", url.bucket),
                message,
            });
        }
        out.sort();
        stats.objects += out.len() as u64;
        Ok(out)
    }

    /// Fetches `objects` (each with its size from the listing) with up to `concurrency` GETs in
    /// flight and at most `buffer_bytes` of them held until decoded, sending each object's bytes
    /// (or why it could not be read) to `sink` as it arrives, for the caller's thread pool. Stops
    /// issuing GETs once `cancelled` says so.
    pub fn fetch(
        &self,
        objects: Vec<(S3Object, u64)>,
        cancelled: &(dyn Fn() -> bool + Sync),
        sink: std::sync::mpsc::SyncSender<Fetched>,
    ) {
        let concurrency = self.settings.concurrency.max(1);
        // The budget in KiB: permits are u32, and a KiB is finer than any object's size matters.
        let budget_kib = (self.settings.buffer_bytes >> 10).clamp(1, u32::MAX as u64 >> 1) as u32;
        let budget = Arc::new(tokio::sync::Semaphore::new(budget_kib as usize));
        let stores: Vec<Option<Arc<AmazonS3>>> = objects
            .iter()
            .map(|(o, _)| self.store(&o.bucket).ok())
            .collect();
        let counters = &self.counters;
        self.runtime.block_on(async {
            let gets = futures::stream::iter(objects.into_iter().zip(stores))
                .take_while(|_| std::future::ready(!cancelled()))
                // Each GET waits for its object's share of the budget, in key order.
                .then(|((object, size), store)| {
                    let budget = budget.clone();
                    async move {
                        let kib = size.div_ceil(1024).clamp(1, budget_kib as u64) as u32;
                        let permit = budget
                            .acquire_many_owned(kib)
                            .await
                            .expect("the budget is never closed");
                        (object, size, store, permit)
                    }
                })
                .map(|(object, size, store, permit)| async move {
                    let Some(store) = store else {
                        return Fetched {
                            object,
                            size,
                            got: Err("no S3 client for its bucket".to_string()),
                            _budget: permit,
                        };
                    };
                    let path = StorePath::from(object.key.as_str());
                    let got = match store.get(&path).await {
                        Ok(r) => r.bytes().await,
                        Err(e) => Err(e),
                    };
                    Fetched {
                        object,
                        size,
                        got: got.map_err(|e| describe(&e)),
                        _budget: permit,
                    }
                })
                .buffer_unordered(concurrency);
            futures::pin_mut!(gets);
            // Ctrl-C stops waiting for the GETs in flight too (they end with the runtime).
            while let Some(Some(fetched)) = unless_cancelled(gets.next(), cancelled).await {
                counters.get_requests.fetch_add(1, Ordering::Relaxed);
                if let Ok(b) = &fetched.got {
                    counters.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
                }
                // A slow consumer holds the next GETs back: memory stays bounded. The GETs in
                // flight wait with this thread, their bytes in the sockets' buffers, until a
                // decoder takes the next object (within one object's decoding). Making them
                // tasks that go on meanwhile (tokio::spawn, an async channel) cost 12 % more
                // CPU and 10 % more time on 20,000 small objects, and gained nothing there.
                if sink.send(fetched).is_err() {
                    break;
                }
            }
        });
    }
}

/// What object_store's HTTP client says when no answer came: a refused or reset connection, a
/// name that does not resolve, a timeout.
const UNREACHABLE: [&str; 5] = [
    "error sending request",
    "Connection refused",
    "dns error",
    "timed out",
    "connection closed",
];

/// The scheme and host of the first URL in an error's text (`http://127.0.0.1:8333`).
fn endpoint_in(text: &str) -> Option<&str> {
    let start = text.find("https://").or_else(|| text.find("http://"))?;
    let url = &text[start..];
    let host = url.find("://")? + 3;
    let end = url[host..]
        .find(['/', ' ', '?'])
        .map_or(url.len(), |i| i + host);
    Some(&url[..end])
}

/// A short message for an S3 error, with what to do about it. S3's own error code and message,
/// when its answer has them, are quoted: a 403 of a listing reaches here as a generic error
/// whose text holds S3's XML.
fn describe(e: &object_store::Error) -> String {
    use object_store::Error as E;
    let text = credentials::generic(e);
    let code = credentials::element(&text, "Code");
    let says = match (code, credentials::element(&text, "Message")) {
        (Some(c), Some(m)) => format!(" (S3 says {c}: {})", credentials::unescape(m)),
        (Some(c), None) => format!(" (S3 says {c})"),
        _ => String::new(),
    };
    let unauthenticated = [
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidToken",
        "ExpiredToken",
        "TokenRefreshRequired",
    ];
    match e {
        E::NotFound { .. } => "no such object (deleted since it was listed?)".to_string(),
        E::Unauthenticated { .. } => {
            format!("not authenticated{says}: check the credentials (AWS_ACCESS_KEY_ID, --profile)")
        }
        _ if code.is_some_and(|c| unauthenticated.contains(&c)) => {
            format!("not authenticated{says}: check the credentials (AWS_ACCESS_KEY_ID, --profile)")
        }
        E::PermissionDenied { .. } => {
            format!("access denied{says}: reading needs s3:GetObject (and s3:ListBucket to list)")
        }
        _ if code == Some("AccessDenied") || text.contains("403 Forbidden") => {
            format!("access denied{says}: reading needs s3:GetObject (and s3:ListBucket to list)")
        }
        _ if code == Some("NoSuchBucket") => format!(
            "no such bucket{says}: check the bucket's name in the s3:// address, and \
             --endpoint-url for a store that is not AWS's"
        ),
        _ if code.is_none() && UNREACHABLE.iter().any(|m| text.contains(m)) => {
            let endpoint = endpoint_in(&text).map_or(String::new(), |e| format!(" {e}"));
            // object_store's "..., after 8 retries, max_retries: ...".
            let retries = text
                .split_once(", after ")
                .and_then(|(_, rest)| rest.split_once(','))
                .filter(|(n, _)| n.ends_with(" retries"))
                .map_or(String::new(), |(n, _)| format!(" after {n}"));
            format!(
                "cannot reach the S3 endpoint{endpoint}{retries}: check --endpoint-url (or \
                 AWS_ENDPOINT_URL), the Region and the network"
            )
        }
        _ => {
            // The first line is the useful one; the rest repeats the request, or is S3's XML.
            let first = text.lines().next().unwrap_or(&text);
            let first = first.split("<?xml").next().unwrap_or(first);
            format!("{}{says}", first.trim_end().trim_end_matches(':'))
        }
    }
}

mod credentials;
mod profile;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_to_do() {
        let generic = |text: &str| object_store::Error::Generic {
            store: "S3",
            source: text.into(),
        };
        // What SeaweedFS and object_store 0.13 answered, measured.
        let no_bucket = describe(&generic(
            "Error performing list request: Error performing GET http://127.0.0.1:8333/nobucket?\
             delimiter=%2F&list-type=2&prefix=AWSLogs%2F in 1.85ms - Server returned non-2xx \
             status code: 404 Not Found: <?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist\
             </Message></Error>",
        ));
        assert!(
            no_bucket.starts_with("no such bucket (S3 says NoSuchBucket: The specified bucket")
                && no_bucket.contains("--endpoint-url"),
            "{no_bucket}"
        );
        let refused = describe(&generic(
            "Error performing list request: Error performing GET http://127.0.0.1:8334/nobucket?\
             delimiter=%2F&list-type=2&prefix=AWSLogs%2F in 2.196174045s, after 8 retries, \
             max_retries: 8, retry_timeout: 120s  - HTTP error: error sending request",
        ));
        assert_eq!(
            refused,
            "cannot reach the S3 endpoint http://127.0.0.1:8334 after 8 retries: check \
             --endpoint-url (or AWS_ENDPOINT_URL), the Region and the network"
        );
        assert_eq!(
            endpoint_in("GET https://b.s3.eu-west-1.amazonaws.com/k failed"),
            Some("https://b.s3.eu-west-1.amazonaws.com")
        );
        assert_eq!(endpoint_in("no address here"), None);
        // Anything else keeps its first line, S3's XML left out.
        let other = describe(&generic(
            "something else: <?xml version=\"1.0\"?><Error/>\nmore",
        ));
        assert_eq!(other, "something else");
    }

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        let u = S3Url::parse("s3://org-trail/AWSLogs/o-1/")
            .unwrap()
            .unwrap();
        assert_eq!(u.bucket, "org-trail");
        assert_eq!(u.prefix, "AWSLogs/o-1/");
        let u = S3Url::parse("s3://org-trail").unwrap().unwrap();
        assert_eq!(u.prefix, "");
        assert!(S3Url::parse("./local").is_none());
        assert!(S3Url::parse("s3://Bad_Bucket/x").unwrap().is_err());
    }
}

//! Any bytes, as a file's content, through everything a file goes through: sniffing, gzip,
//! framing, parsing, classification, correlation. Nothing may panic, and every record read
//! must be accounted for.
#![no_main]
use keytrail::trail::config::AnalyzeConfig;
use keytrail::trail::{read_bytes, Batch, Windows};
use libfuzzer_sys::fuzz_target;

mod gz;

thread_local! {
    /// A one-thread pool of the fuzzing thread itself: the pipeline's parallel steps run inline,
    /// with no thread to wake (most of the time a pool of idle workers costs otherwise).
    static POOL: rayon::ThreadPool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .use_current_thread()
        .build()
        .expect("a one-thread pool");
}

fuzz_target!(|data: &[u8]| POOL.with(|pool| pool.install(|| check(data))));

fn check(data: &[u8]) {
    let mut cfg = AnalyzeConfig::new(Vec::new());
    // Half the inputs also keep every KMS call, as cost and quota do.
    cfg.keep_calls = data.len() % 2 == 1;
    let mut batch = Batch::default();
    let mut window = Windows::default();
    read_bytes("fuzz", data, &cfg, &mut batch, &mut window, &|_| false);
    // A second copy, gzipped, takes the streaming path too.
    read_bytes(
        "fuzz.gz",
        &gz::gzip(data),
        &cfg,
        &mut batch,
        &mut window,
        &|_| false,
    );
    let joined = keytrail::join::join(batch, &cfg);
    let report = keytrail::reports::calls::rows(&joined, &cfg);
    assert!(
        report.summary.records_balance(),
        "{:?}",
        report.summary.records
    );
    if cfg.keep_calls {
        // The what-if, cost and quota stages on whatever the input made.
        let what_if = keytrail::reports::whatif::project(&joined, &Default::default());
        let span = (joined.summary.first_time, joined.summary.last_time);
        if let Some(w) = keytrail::reports::cost::Window::of(None, None, span.0, span.1) {
            let _ = keytrail::reports::cost::cost(&joined, &what_if, &Default::default(), w);
            let _ = keytrail::reports::quota::quota(&joined, &what_if, &Default::default(), w);
        }
    }
}

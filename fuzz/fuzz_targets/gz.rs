//! gzip for the harnesses, by libdeflate: C, so the fuzzer spends no coverage instrumentation
//! on compressing (the code under test inflates what this writes).

/// `data` gzipped in one member, at libdeflate's level 6 (CloudTrail's files are level 6).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    // SAFETY: the compressor is allocated, used on buffers of the sizes given, and freed here.
    unsafe {
        let c = libdeflate_sys::libdeflate_alloc_compressor(6);
        assert!(!c.is_null(), "libdeflate cannot allocate a compressor");
        let bound = libdeflate_sys::libdeflate_gzip_compress_bound(c, data.len());
        let mut out = vec![0u8; bound];
        let n = libdeflate_sys::libdeflate_gzip_compress(
            c,
            data.as_ptr().cast(),
            data.len(),
            out.as_mut_ptr().cast(),
            out.len(),
        );
        libdeflate_sys::libdeflate_free_compressor(c);
        assert!(n > 0, "the bound is enough");
        out.truncate(n);
        out
    }
}

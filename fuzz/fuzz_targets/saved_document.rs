#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| quire_fuzz::saved_document::run(data));

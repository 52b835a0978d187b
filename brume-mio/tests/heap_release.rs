//! `heap::release_freed` gives back the pages of freed memory that glibc
//! keeps for itself. Alone in its binary: it reads the process's own
//! resident memory, which another test's allocations would move.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn freed_small_allocations_go_back_to_the_system() {
    fn anon_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("RssAnon in /proc/self/status")
    }
    // 96 MiB in 2 KiB pieces, every 32nd kept: the heap cannot shrink from
    // its top, so glibc keeps nearly all of it after the frees.
    let mut pieces: Vec<Option<Box<[u8]>>> = (0..49_152)
        .map(|i| Some(vec![i as u8 | 1; 2048].into_boxed_slice()))
        .collect();
    for (i, p) in pieces.iter_mut().enumerate() {
        if i % 32 != 0 {
            *p = None;
        }
    }
    let before = anon_kib();
    assert!(before > 80 << 10, "the pieces were resident: {before} KiB");
    brume_mio::heap::release_freed();
    let after = anon_kib();
    assert!(
        after + (64 << 10) < before,
        "at least 64 MiB went back: {before} KiB before, {after} KiB after"
    );
    // What was kept is intact.
    for (i, p) in pieces.iter().enumerate() {
        if let Some(p) = p {
            assert!(p.iter().all(|&b| b == i as u8 | 1));
        }
    }
}

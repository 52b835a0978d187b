//! The second driver, `examples/threads.rs`, runs and moves its file: the
//! `Node` works in a loop that is not the mio client's.

use std::process::Command;

#[test]
fn the_std_threads_driver_sends_a_file_between_two_nodes() {
    // `cargo test` has built the example already; this only runs it.
    let out = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "-p", "brume-mio", "--example", "threads"])
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the example failed: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("sent 4194304 bytes"), "{stdout}");
}

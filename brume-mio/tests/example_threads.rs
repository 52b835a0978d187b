//! The second driver, `examples/threads.rs`, runs and moves its file: the
//! `Node` works in a loop that is not the mio client's.

use std::path::PathBuf;
use std::process::Command;

/// The example as `cargo test` built it, beside this test in the target dir
/// (`target/debug/examples/threads`), if it is there.
fn built_example() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("examples").join("threads");
    path.is_file().then_some(path)
}

#[test]
fn the_std_threads_driver_sends_a_file_between_two_nodes() {
    // `cargo test` builds the examples with the tests; run that build.
    // `cargo run -p brume-mio` would resolve features for brume-mio alone
    // and compile str0m and its crypto a second time (minutes, gigabytes).
    let mut cmd = match built_example() {
        Some(path) => Command::new(path),
        None => {
            let mut cargo = Command::new(env!("CARGO"));
            cargo.args(["run", "--quiet", "-p", "brume-mio", "--example", "threads"]);
            cargo
        }
    };
    let out = cmd.output().expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the example failed: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("sent 4194304 bytes"), "{stdout}");
}

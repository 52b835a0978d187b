//! How long a poll loop sleeps until a core's next timeout.

use std::time::Duration;

/// mio waits in whole milliseconds: round up so a wake is never early.
pub(crate) fn ceil_ms(d: Duration) -> Duration {
    let ms = d.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::ceil_ms;
    use std::time::Duration;

    #[test]
    fn a_wait_is_rounded_up_to_whole_milliseconds() {
        assert_eq!(ceil_ms(Duration::from_micros(1)), Duration::from_millis(1));
        assert_eq!(ceil_ms(Duration::from_millis(3)), Duration::from_millis(3));
        assert_eq!(ceil_ms(Duration::ZERO), Duration::ZERO);
    }
}

//! Numbers for people: rates, durations and relative changes in the runner's output.

/// `ops` per second with a k/M/G suffix, e.g. `1.23M`.
pub fn rate(ops_per_sec: f64) -> String {
    let (value, suffix) = if ops_per_sec >= 1e9 {
        (ops_per_sec / 1e9, "G")
    } else if ops_per_sec >= 1e6 {
        (ops_per_sec / 1e6, "M")
    } else if ops_per_sec >= 1e3 {
        (ops_per_sec / 1e3, "k")
    } else {
        (ops_per_sec, "")
    };
    format!("{}{suffix}", three_digits(value))
}

/// A duration in nanoseconds with a fitting unit, e.g. `1.23 ms`.
pub fn duration_ns(nanos: f64) -> String {
    let (value, unit) = if nanos >= 1e9 {
        (nanos / 1e9, "s")
    } else if nanos >= 1e6 {
        (nanos / 1e6, "ms")
    } else if nanos >= 1e3 {
        (nanos / 1e3, "µs")
    } else {
        (nanos, "ns")
    };
    format!("{} {unit}", three_digits(value))
}

/// A per-op count with about three significant digits, e.g. `0.00`, `12.5`, `2043`.
pub fn count(value: f64) -> String {
    three_digits(value)
}

/// A relative change as a signed percentage, e.g. `+4.2%`; `new` when there was nothing
/// before.
pub fn change(ratio: f64) -> String {
    if ratio.is_infinite() {
        "new".into()
    } else {
        format!("{:+.1}%", ratio * 100.0)
    }
}

/// `value` with about three significant digits.
fn three_digits(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_with_three_digits_and_a_unit() {
        assert_eq!(rate(1_234_567.0), "1.23M");
        assert_eq!(rate(312.4), "312");
        assert_eq!(duration_ns(1_250.0), "1.25 µs");
        assert_eq!(duration_ns(45_600_000.0), "45.6 ms");
        assert_eq!(change(-0.2), "-20.0%");
        assert_eq!(count(10_855.33), "10855");
        assert_eq!(count(0.0), "0.00");
        assert_eq!(change(f64::INFINITY), "new");
    }
}

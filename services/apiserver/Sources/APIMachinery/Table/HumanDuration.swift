// Kubernetes' human-readable ages (k8s.io/apimachinery/pkg/util/duration) and the RFC 3339 timestamps they are
// computed from (metav1.Time / metav1.MicroTime as they appear in JSON).

import Foundation

/// `duration.HumanDuration` and `duration.ShortHumanDuration` from k8s.io/apimachinery, with Go's integer
/// arithmetic on a nanosecond count.
public enum HumanDuration {
    private static let nanosPerSecond: Int64 = 1_000_000_000
    private static let nanosPerMinute: Int64 = 60 * nanosPerSecond
    private static let nanosPerHour: Int64 = 60 * nanosPerMinute

    /// The duration of `seconds` (rounded to whole nanoseconds, as a Go `time.Duration`), e.g. `"5s"`, `"3m20s"`,
    /// `"2d3h"`, `"45d"`, `"2y"`; `"<invalid>"` when more than one second in the future.
    public static func string(_ seconds: Double) -> String {
        string(nanoseconds: nanoseconds(seconds))
    }

    /// `HumanDuration` of a Go `time.Duration` (nanoseconds): about 2–3 significant figures.
    public static func string(nanoseconds d: Int64) -> String {
        // Up to a second or so in the future is taken as now (clock skew between machines).
        let seconds = d / nanosPerSecond
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 60 * 2 { return "\(seconds)s" }
        let minutes = d / nanosPerMinute
        if minutes < 10 {
            let s = (d / nanosPerSecond) % 60
            return s == 0 ? "\(minutes)m" : "\(minutes)m\(s)s"
        }
        if minutes < 60 * 3 { return "\(minutes)m" }
        let hours = d / nanosPerHour
        if hours < 8 {
            let m = (d / nanosPerMinute) % 60
            return m == 0 ? "\(hours)h" : "\(hours)h\(m)m"
        }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 {
            let h = hours % 24
            return h == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(h)h"
        }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 {
            let dy = (hours / 24) % 365
            return dy == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\(dy)d"
        }
        return "\(hours / 24 / 365)y"
    }

    /// `ShortHumanDuration`: one unit only (`"45s"`, `"12m"`, `"5h"`, `"3d"`, `"2y"`).
    public static func shortString(_ seconds: Double) -> String {
        let d = nanoseconds(seconds)
        let s = d / nanosPerSecond
        if s < -1 { return "<invalid>" }
        if s < 0 { return "0s" }
        if s < 60 { return "\(s)s" }
        let minutes = d / nanosPerMinute
        if minutes < 60 { return "\(minutes)m" }
        let hours = d / nanosPerHour
        if hours < 24 { return "\(hours)h" }
        if hours < 24 * 365 { return "\(hours / 24)d" }
        return "\(hours / 24 / 365)y"
    }

    /// Seconds as a Go `time.Duration`: rounded to the nanosecond, saturating like `time.Sub`.
    static func nanoseconds(_ seconds: Double) -> Int64 {
        guard seconds.isFinite else { return seconds > 0 ? Int64.max : (seconds < 0 ? Int64.min : 0) }
        let nanos = (seconds * 1e9).rounded()
        if nanos >= 9.223_372_036_854_775e18 { return Int64.max }
        if nanos <= -9.223_372_036_854_775e18 { return Int64.min }
        return Int64(nanos)
    }
}

extension TablePrinter {
    /// Parses a Kubernetes timestamp as Go's `time.Parse(time.RFC3339, …)` does: `2026-11-22T10:00:00Z`, with an
    /// optional fraction of a second (`MicroTime`) and a `Z` or `±hh:mm` offset. Returns nil for anything else.
    public static func parseTimestamp(_ text: String) -> Date? {
        guard let (seconds, nanos) = RFC3339.parse(text) else { return nil }
        return Date(timeIntervalSince1970: Double(seconds) + Double(nanos) / 1e9)
    }

    /// `translateTimestampSince`: `"<unknown>"` for a missing, unparsable or zero (`0001-01-01T00:00:00Z`)
    /// timestamp, else the `HumanDuration` from it to `now`.
    public static func age(of timestamp: String?, now: Date) -> String {
        guard let timestamp, let time = instant(timestamp) else { return "<unknown>" }
        return HumanDuration.string(now.timeIntervalSince1970 - time)
    }

    /// Seconds since 1970 for a non-zero timestamp (nil when missing, unparsable or Go's zero time).
    static func instant(_ text: String) -> Double? {
        guard let (seconds, nanos) = RFC3339.parse(text) else { return nil }
        if seconds == RFC3339.goZeroTimeUnixSeconds && nanos == 0 { return nil }
        return Double(seconds) + Double(nanos) / 1e9
    }
}

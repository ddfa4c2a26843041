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
        guard let (seconds, fraction) = parseRFC3339(text) else { return nil }
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// `translateTimestampSince`: `"<unknown>"` for a missing, unparsable or zero (`0001-01-01T00:00:00Z`)
    /// timestamp, else the `HumanDuration` from it to `now`.
    public static func age(of timestamp: String?, now: Date) -> String {
        guard let timestamp, let time = instant(timestamp) else { return "<unknown>" }
        return HumanDuration.string(now.timeIntervalSince1970 - time)
    }

    /// Seconds since 1970 for a non-zero timestamp (nil when missing, unparsable or Go's zero time).
    static func instant(_ text: String) -> Double? {
        guard let (seconds, fraction) = parseRFC3339(text) else { return nil }
        if seconds == goZeroTimeUnixSeconds && fraction == 0 { return nil }
        return Double(seconds) + fraction
    }

    /// `time.Time{}` (January 1, year 1, UTC) as Unix seconds.
    private static let goZeroTimeUnixSeconds: Int64 = -62_135_596_800

    private static func parseRFC3339(_ text: String) -> (Int64, Double)? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int64? {
            guard i + n <= b.count else { return nil }
            var v: Int64 = 0
            for k in i..<(i + n) {
                guard b[k] >= 0x30 && b[k] <= 0x39 else { return nil }
                v = v * 10 + Int64(b[k] - 0x30)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(0x2D), let month = digits(2), expect(0x2D), let day = digits(2) else {
            return nil
        }
        guard i < b.count, b[i] == 0x54 || b[i] == 0x74 else { return nil }  // T or t
        i += 1
        guard let hour = digits(2), expect(0x3A), let minute = digits(2), expect(0x3A), let second = digits(2) else {
            return nil
        }
        var fraction = 0.0
        if i < b.count, b[i] == 0x2E || b[i] == 0x2C {  // Go accepts '.' or ','
            i += 1
            let start = i
            var scale = 0.1
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 {
                fraction += Double(b[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        var offset: Int64 = 0
        guard i < b.count else { return nil }
        if b[i] == 0x5A || b[i] == 0x7A {  // Z or z
            i += 1
        } else if b[i] == 0x2B || b[i] == 0x2D {
            let sign: Int64 = b[i] == 0x2D ? -1 : 1
            i += 1
            guard let oh = digits(2), expect(0x3A), let om = digits(2), oh < 24, om < 60 else { return nil }
            offset = sign * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour < 24, minute < 60,
            second < 60
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return (days * 86_400 + hour * 3600 + minute * 60 + second - offset, fraction)
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar.
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

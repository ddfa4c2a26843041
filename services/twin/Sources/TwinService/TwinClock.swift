// Time formatting for `last_online` (edgecore: `time.Now().Format("2006-01-02 15:04:05")`, local time).

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

public enum TwinClock {
    /// `YYYY-MM-DD hh:mm:ss` in the process's local time zone.
    public static func localDateTime(millis: Int64) -> String { format(millis: millis, local: true) }

    /// `YYYY-MM-DD hh:mm:ss` in UTC (deterministic; for tests).
    public static func utcDateTime(millis: Int64) -> String { format(millis: millis, local: false) }

    static func format(millis: Int64, local: Bool) -> String {
        var seconds = time_t(millis >= 0 ? millis / 1000 : (millis - 999) / 1000)
        var parts = tm()
        if local { localtime_r(&seconds, &parts) } else { gmtime_r(&seconds, &parts) }
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2) + " "
            + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2)
    }
}

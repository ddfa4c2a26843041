import EdgeProtocol

#if canImport(Glibc)
import Glibc
#endif

/// One line of a CRI container log file (the format containerd writes, as kubelet reads it):
/// `<RFC 3339 nano time> <stdout|stderr> <P|F> <content>`, P for a partial line continued by the next.
struct CRILogLine: Equatable {
    var time: String
    /// Seconds since the epoch (for sinceSeconds / sinceTime).
    var seconds: Double
    var stream: String
    var partial: Bool
    var content: [UInt8]

    /// Nil for a line that is not in the format (it is skipped, as kubelet skips it).
    init?(_ line: ArraySlice<UInt8>) {
        let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 3, omittingEmptySubsequences: false)
        guard fields.count >= 3, let seconds = RFC3339.seconds(String(decoding: fields[0], as: UTF8.self)) else { return nil }
        time = String(decoding: fields[0], as: UTF8.self)
        self.seconds = seconds
        stream = String(decoding: fields[1], as: UTF8.self)
        partial = fields[2].first == UInt8(ascii: "P")
        content = fields.count == 4 ? Array(fields[3]) : []
    }

    init(time: String, seconds: Double, stream: String, partial: Bool, content: [UInt8]) {
        self.time = time
        self.seconds = seconds
        self.stream = stream
        self.partial = partial
        self.content = content
    }
}

/// RFC 3339 times to epoch seconds (what CRI log lines and sinceTime carry).
extension RFC3339 {
    static func seconds(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " ") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 else { return nil }
                value = value * 10 + Int(bytes[index] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var index = 19
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offset = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            guard let h = number(index + 1..<index + 3), let m = number(index + 4..<index + 6) else { return nil }
            offset = (h * 3600 + m * 60) * (bytes[index] == UInt8(ascii: "+") ? 1 : -1)
        } else if index >= bytes.count || (bytes[index] != UInt8(ascii: "Z") && bytes[index] != UInt8(ascii: "z")) {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Double(timegm(&parts) - offset) + fraction
    }
}

/// What `kubectl logs` options make of a container's log lines (kubelet's ReadLogs): whole lines (partial ones
/// joined), since a time, the last N, each prefixed with its time when asked, cut at a byte limit. Pure.
struct LogSelection {
    var options: LogOptions
    /// The earliest time shown (sinceTime, or now − sinceSeconds).
    var since: Double?
    /// Bytes still allowed (limitBytes).
    var remaining: Int?
    private var pending: CRILogLine?

    init(options: LogOptions, now: Double) {
        self.options = options
        if let seconds = options.sinceSeconds { since = now - Double(seconds) }
        if let time = options.sinceTime.flatMap(RFC3339.seconds) { since = max(since ?? time, time) }
        remaining = options.limitBytes
    }

    var exhausted: Bool { remaining.map { $0 <= 0 } ?? false }

    /// Whole log lines from complete file lines; partial lines are held until their last part arrives.
    mutating func join(_ lines: [CRILogLine]) -> [CRILogLine] {
        var whole: [CRILogLine] = []
        for line in lines {
            if var started = pending {
                started.content += line.content
                started.partial = line.partial
                pending = line.partial ? started : nil
                if !line.partial { whole.append(started) }
            } else if line.partial {
                pending = line
            } else {
                whole.append(line)
            }
        }
        return whole
    }

    /// Whether the line is recent enough to show (sinceSeconds, sinceTime).
    func shows(_ line: CRILogLine) -> Bool { since.map { line.seconds >= $0 } ?? true }

    /// The bytes to show for these whole lines (`--tail` picks its lines before, with `LastLines`).
    mutating func render(_ lines: [CRILogLine]) -> [UInt8] {
        var out: [UInt8] = []
        for line in lines where shows(line) {
            if options.timestamps { out += Array(line.time.utf8) + [UInt8(ascii: " ")] }
            out += line.content
            out.append(UInt8(ascii: "\n"))
        }
        if let limit = remaining {
            if out.count > limit { out = Array(out.prefix(limit)) }
            remaining = limit - out.count
        }
        return out
    }

    /// Splits file bytes into complete lines; returns the parsed lines and the bytes after the last newline.
    static func lines(_ bytes: [UInt8]) -> (lines: [CRILogLine], rest: [UInt8]) {
        guard let last = bytes.lastIndex(of: UInt8(ascii: "\n")) else { return ([], bytes) }
        let lines = bytes[..<last].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
            .compactMap { CRILogLine($0) }
        return (lines, Array(bytes[(last + 1)...]))
    }
}

/// The last `capacity` lines appended (`kubectl logs --tail` over a file of any length).
struct LastLines {
    let capacity: Int
    private var ring: [CRILogLine] = []
    private var next = 0

    init(capacity: Int) { self.capacity = max(0, capacity) }

    mutating func append(_ line: CRILogLine) {
        guard capacity > 0 else { return }
        if ring.count < capacity {
            ring.append(line)
        } else {
            ring[next] = line
            next = (next + 1) % capacity
        }
    }

    var lines: [CRILogLine] { Array(ring[next...] + ring[..<next]) }
}

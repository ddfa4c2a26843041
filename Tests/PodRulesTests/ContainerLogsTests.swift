@testable import EdgedService
import EdgeProtocol
import Testing

/// kubelet's log reading rules over CRI log lines, without files or containers.
@Suite("container log selection")
struct ContainerLogsTests {
    static let file = """
        2026-12-03T10:00:00.000000001Z stdout F one
        2026-12-03T10:00:01.5Z stderr F two
        2026-12-03T10:00:02Z stdout P thr
        2026-12-03T10:00:02.1Z stdout P e
        2026-12-03T10:00:02.2Z stdout F e
        not a log line
        2026-12-03T10:00:03+01:00 stdout F four
        2026-12-03T10:00:04Z stdout F fi
        """

    func render(_ options: LogOptions, now: Double = 1_796_292_010) -> String {
        var selection = LogSelection(options: options, now: now)
        let (lines, rest) = LogSelection.lines(Array(Self.file.utf8))
        #expect(rest == Array("2026-12-03T10:00:04Z stdout F fi".utf8))
        var whole = selection.join(lines)
        if let tail = options.tailLines {
            // As edged reads a file for --tail: the last N lines shown, kept while reading.
            var kept = LastLines(capacity: tail)
            for line in whole where selection.shows(line) { kept.append(line) }
            whole = kept.lines
        }
        return String(decoding: selection.render(whole), as: UTF8.self)
    }

    @Test("whole lines, partial ones joined, malformed ones skipped, the unfinished last line held back")
    func joining() {
        #expect(render(LogOptions()) == "one\ntwo\nthree\nfour\n")
    }

    @Test("tail, timestamps, limit, since")
    func options() {
        var tail = LogOptions()
        tail.tailLines = 2
        #expect(render(tail) == "three\nfour\n")
        tail.tailLines = 0
        #expect(render(tail) == "")
        var stamped = LogOptions()
        stamped.timestamps = true
        stamped.tailLines = 1
        #expect(render(stamped) == "2026-12-03T10:00:03+01:00 four\n")
        var limited = LogOptions()
        limited.limitBytes = 6
        #expect(render(limited) == "one\ntw")
        var since = LogOptions()
        since.sinceTime = "2026-12-03T10:00:01Z"
        #expect(render(since) == "two\nthree\n", "four is at 09:00:03Z, before the cut")
        var recent = LogOptions()
        recent.sinceSeconds = 9  // now is 10:00:10Z
        #expect(render(recent) == "two\nthree\n")
    }

    @Test("RFC 3339 with fractions and offsets")
    func times() {
        #expect(RFC3339.seconds("1970-01-01T00:00:01Z") == 1)
        #expect(RFC3339.seconds("1970-01-01T01:00:01+01:00") == 1)
        #expect(RFC3339.seconds("1970-01-01T00:00:01.25Z") == 1.25)
        #expect(RFC3339.seconds("1970-01-01T00:00:01") == nil)
        #expect(RFC3339.seconds("garbage") == nil)
    }
}

import Foundation
import Testing

@testable import APIMachinery
@testable import APIServerService

@Suite struct HumanDurationTests {
    private static let s: Int64 = 1_000_000_000
    private static let ms: Int64 = 1_000_000
    private static let m: Int64 = 60 * s
    private static let h: Int64 = 60 * m
    private static let d: Int64 = 24 * h
    private static let y: Int64 = 365 * d

    // apimachinery's TestHumanDuration and TestHumanDurationBoundaries.
    static let cases: [(Int64, String)] = [
        (s, "1s"), (70 * s, "70s"), (190 * s, "3m10s"), (70 * m, "70m"), (47 * h, "47h"), (49 * h, "2d1h"),
        ((8 * 24 + 2) * h, "8d"), (367 * d, "367d"), (2 * y + 25 * h, "2y1d"), (8 * y + 2 * h, "8y"),
        (-2 * s, "<invalid>"), (-2 * s + 1, "0s"), (0, "0s"), (s - ms, "0s"), (2 * m - ms, "119s"), (2 * m, "2m"),
        (2 * m + s, "2m1s"), (10 * m - ms, "9m59s"), (10 * m, "10m"), (10 * m + s, "10m"), (3 * h - ms, "179m"),
        (3 * h, "3h"), (3 * h + m, "3h1m"), (8 * h - ms, "7h59m"), (8 * h, "8h"), (8 * h + 59 * m, "8h"),
        (2 * d - ms, "47h"), (2 * d, "2d"), (2 * d + h, "2d1h"), (8 * d - ms, "7d23h"), (8 * d, "8d"),
        (8 * d + 23 * h, "8d"), (2 * y - ms, "729d"), (2 * y, "2y"), (2 * y + 23 * h, "2y"),
        (2 * y + 23 * h + 59 * m, "2y"), (2 * y + d - ms, "2y"), (2 * y + d, "2y1d"), (3 * y, "3y"), (4 * y, "4y"),
        (5 * y, "5y"), (6 * y, "6y"), (7 * y, "7y"), (8 * y - ms, "7y364d"), (8 * y, "8y"), (8 * y + 364 * d, "8y"),
        (9 * y, "9y"),
    ]

    @Test(arguments: cases)
    func humanDuration(_ nanoseconds: Int64, _ expected: String) {
        #expect(HumanDuration.string(nanoseconds: nanoseconds) == expected)
        #expect(HumanDuration.string(Double(nanoseconds) / 1e9) == expected)
    }

    // apimachinery's TestShortHumanDurationBoundaries.
    static let shortCases: [(Int64, String)] = [
        (-2 * s, "<invalid>"), (-2 * s + 1, "0s"), (0, "0s"), (s - ms, "0s"), (s, "1s"), (2 * s - ms, "1s"),
        (m - ms, "59s"), (m, "1m"), (2 * m - ms, "1m"), (h - ms, "59m"), (h, "1h"), (2 * h - ms, "1h"),
        (d - ms, "23h"), (d, "1d"), (2 * d - ms, "1d"), (y - ms, "364d"), (y, "1y"), (2 * y - ms, "1y"),
        (2 * y, "2y"),
    ]

    @Test(arguments: shortCases)
    func shortHumanDuration(_ nanoseconds: Int64, _ expected: String) {
        #expect(HumanDuration.shortString(Double(nanoseconds) / 1e9) == expected)
    }

    @Test func examplesFromTheBrief() {
        #expect(HumanDuration.string(5) == "5s")
        #expect(HumanDuration.string(200) == "3m20s")
        #expect(HumanDuration.string(2 * 86_400 + 3 * 3600) == "2d3h")
        #expect(HumanDuration.string(45 * 86_400) == "45d")
        #expect(HumanDuration.string(2 * 365 * 86_400) == "2y")
    }

    @Test func timestamps() throws {
        let base = try #require(TablePrinter.parseTimestamp("2026-11-22T10:00:00Z"))
        #expect(base.timeIntervalSince1970 == 1_795_341_600)
        #expect(TablePrinter.parseTimestamp("2026-11-22T10:00:00.250000Z")?.timeIntervalSince1970 == 1_795_341_600.25)
        #expect(TablePrinter.parseTimestamp("2026-11-22T12:30:00+02:30") == base)
        #expect(TablePrinter.parseTimestamp("2026-11-22T07:00:00-03:00") == base)
        #expect(TablePrinter.parseTimestamp("1970-01-01T00:00:00Z")?.timeIntervalSince1970 == 0)
        #expect(TablePrinter.parseTimestamp("2024-02-29T00:00:00Z") != nil)
        for bad in ["", "2026-11-22", "2026-11-22 10:00:00Z", "2026-11-22T10:00:00", "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T10:00:00.Z", "2026-11-22T10:00:00Zjunk"]
        {
            #expect(TablePrinter.parseTimestamp(bad) == nil, "\(bad)")
        }
        #expect(RFC3339.format(seconds: 1_795_341_600) == "2026-11-22T10:00:00Z")
        #expect(RFC3339.format(seconds: -62_135_596_800) == "0001-01-01T00:00:00Z")
    }

    @Test func ages() {
        #expect(TablePrinter.age(of: nil, now: tableNow) == "<unknown>")
        #expect(TablePrinter.age(of: "0001-01-01T00:00:00Z", now: tableNow) == "<unknown>")
        #expect(TablePrinter.age(of: "garbage", now: tableNow) == "<unknown>")
        #expect(TablePrinter.age(of: "2026-11-22T11:59:55Z", now: tableNow) == "5s")
        #expect(TablePrinter.age(of: "2026-11-22T11:56:40Z", now: tableNow) == "3m20s")
        #expect(TablePrinter.age(of: "2026-11-20T09:00:00Z", now: tableNow) == "2d3h")
        #expect(TablePrinter.age(of: "2026-11-22T12:00:01Z", now: tableNow) == "0s")
        #expect(TablePrinter.age(of: "2026-11-22T12:00:05Z", now: tableNow) == "<invalid>")
        #expect(TablePrinter.age(of: "2026-11-22T11:59:58.5Z", now: tableNow) == "1s")
    }
}

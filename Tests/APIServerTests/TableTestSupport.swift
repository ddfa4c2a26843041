import EdgeProtocol
import Foundation
import Testing

@testable import APIMachinery
@testable import APIServerService

/// The fixed "now" of the printer tests.
let tableNow = TablePrinter.parseTimestamp("2026-11-22T12:00:00Z")!

/// Parses a JSON literal written in a test.
func json(_ text: String) -> JSONValue {
    do {
        return try JSONValue(parsing: Array(text.utf8))
    } catch {
        Issue.record("bad test JSON: \(error)")
        return .null
    }
}

/// Compact JSON text of a value.
func text(_ value: JSONValue) -> String {
    String(decoding: (try? value.serialized()) ?? [], as: UTF8.self)
}

/// A timestamp `seconds` before `tableNow`.
func ago(_ seconds: Int64) -> String {
    RFC3339.format(seconds: Int64(tableNow.timeIntervalSince1970) - seconds)
}

func cells(_ kind: String, _ group: String, _ object: String) -> [JSONValue] {
    TablePrinter.cells(forKind: kind, group: group, object: json(object), now: tableNow)
}

func cells(_ kind: String, _ object: String) -> [JSONValue] {
    cells(kind, "", object)
}

func columnNames(_ kind: String, _ group: String = "") -> [String] {
    TablePrinter.columns(forKind: kind, group: group).map(\.name)
}

func widePriorities(_ kind: String, _ group: String = "") -> [Int32] {
    TablePrinter.columns(forKind: kind, group: group).map(\.priority)
}

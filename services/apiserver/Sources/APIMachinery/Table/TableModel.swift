// Server-side printing: the meta.k8s.io `Table` kube-apiserver returns for
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, built as a `JSONValue`.
//
// What kube-apiserver v1.30 does, and so what this does:
// - the column definitions are always the "wide" set (the server generates with `Wide: true`; kubectl hides
//   columns with priority > 0 unless `-o wide`), and every row carries a cell for each of them;
// - `metadata` is the list's ListMeta (`resourceVersion`, `continue`, `remainingItemCount`, each omitted when
//   empty) or, for one object, `resourceVersion` taken from the object;
// - `columnDefinitions` is `null` when headers are not wanted (watch events after the first one);
// - each row's `object` follows `?includeObject=`: `Metadata` (the default) gives a `PartialObjectMetadata`,
//   `Object` the full object, `None` gives `"object":null` (Go's `RawExtension` marshals an empty value as null).

import EdgeProtocol
import Foundation

/// The `includeObject` query parameter of a Table request.
public enum IncludeObject: String, Sendable, Hashable, CaseIterable {
    case none = "None"
    case metadata = "Metadata"
    case object = "Object"

    /// The query value as kube-apiserver reads it: missing or empty means `Metadata`; any other unknown value is
    /// nil (kube answers 400 `unrecognized includeObject value: "…"`).
    public static func parse(_ queryValue: String?) -> IncludeObject? {
        guard let queryValue, !queryValue.isEmpty else { return .metadata }
        return IncludeObject(rawValue: queryValue)
    }
}

/// One `TableColumnDefinition`.
public struct TableColumn: Sendable, Hashable {
    public var name: String
    /// An OpenAPI type: `string`, `integer`, `number`, `boolean`, `date`.
    public var type: String
    /// An OpenAPI format (`name` marks the column holding the object's name), or empty.
    public var format: String
    public var description: String
    /// 0 for the default view; greater for `-o wide` only.
    public var priority: Int32

    public init(name: String, type: String, format: String = "", description: String = "", priority: Int32 = 0) {
        self.name = name
        self.type = type
        self.format = format
        self.description = description
        self.priority = priority
    }

    /// The definition as JSON; every field is always present, as Go writes it.
    public var json: JSONValue {
        .object([
            (key: "name", value: .string(name)),
            (key: "type", value: .string(type)),
            (key: "format", value: .string(format)),
            (key: "description", value: .string(description)),
            (key: "priority", value: .integer(priority)),
        ])
    }
}

/// Builds Tables for built-in kinds (kube's printers), for anything else (kube's default table convertor) and
/// for custom resources (kube's CRD table convertor).
public enum TablePrinter {
    /// Holds the cells of one row and its `conditions` (only completed pods have any).
    struct PrintedRow {
        var cells: [JSONValue]
        var conditions: [JSONValue] = []
    }

    // MARK: Built-in kinds

    /// The columns kube-apiserver declares for a kind (all of them: the server always prints wide). Kinds without
    /// a printer get the default convertor's `Name`, `Created At`.
    public static func columns(forKind kind: String, group: String) -> [TableColumn] {
        printer(kind: kind, group: group)?.columns ?? defaultColumns
    }

    /// Whether kube has a dedicated printer for this kind (otherwise the default `Name`/`Created At` table).
    public static func hasPrinter(kind: String, group: String) -> Bool {
        printer(kind: kind, group: group) != nil
    }

    /// The cells of one object's row, one per column of ``columns(forKind:group:)``.
    public static func cells(forKind kind: String, group: String, object: JSONValue, now: Date) -> [JSONValue] {
        printRow(kind: kind, group: group, object: object, now: now).cells
    }

    /// The Table for a list (GET of a collection): one row per item in order, `metadata` from the list.
    public static func table(
        kind: String, group: String, objects: [JSONValue], resourceVersion: String, continueToken: String? = nil,
        remainingItemCount: Int64? = nil, includeObject: IncludeObject = .metadata, includeColumns: Bool = true,
        now: Date = Date(), metaVersion: String = "v1"
    ) -> JSONValue {
        let known = printer(kind: kind, group: group)
        let rows = objects.map { (object: $0, row: printRow(kind: kind, group: group, object: $0, now: now)) }
        return assemble(
            columns: includeColumns ? (known?.columns ?? defaultColumns) : nil,
            // kube's default convertor leaves `rows` nil (JSON null) for an empty list; the printers give [].
            rows: known == nil && rows.isEmpty ? nil : rows,
            resourceVersion: resourceVersion, continueToken: continueToken, remainingItemCount: remainingItemCount,
            includeObject: includeObject, metaVersion: metaVersion)
    }

    /// The Table for one object: GET of a single object, and each watch event (where kube sends the column
    /// definitions with the first event only: pass `includeColumns: false` after it). `metadata.resourceVersion`
    /// is the object's.
    public static func table(
        kind: String, group: String, object: JSONValue, includeObject: IncludeObject = .metadata,
        includeColumns: Bool = true, now: Date = Date(), metaVersion: String = "v1"
    ) -> JSONValue {
        assemble(
            columns: includeColumns ? columns(forKind: kind, group: group) : nil,
            rows: [(object: object, row: printRow(kind: kind, group: group, object: object, now: now))],
            resourceVersion: object.string(at: "metadata.resourceVersion") ?? "", continueToken: nil,
            remainingItemCount: nil, includeObject: includeObject, metaVersion: metaVersion)
    }

    /// A watch event carrying a Table: `{"type":"ADDED","object":{…Table…}}`.
    public static func watchEvent(type: String, table: JSONValue) -> JSONValue {
        .object([(key: "type", value: .string(type)), (key: "object", value: table)])
    }

    static func printRow(kind: String, group: String, object: JSONValue, now: Date) -> PrintedRow {
        if let known = printer(kind: kind, group: group) {
            return known.print(Field(object), now)
        }
        return defaultRow(Field(object))
    }

    // MARK: kube's default table convertor (k8s.io/apiserver/pkg/registry/rest/table.go)

    /// `Name` and `Created At` (type `date`, cell in RFC 3339 UTC): what kube serves for kinds without a printer,
    /// e.g. CustomResourceDefinition, ClusterRole, Role, LimitRange.
    public static let defaultColumns: [TableColumn] = [
        TableColumn(name: "Name", type: "string", format: "name", description: Doc.name),
        TableColumn(name: "Created At", type: "date", description: Doc.creationTimestamp),
    ]

    private static func defaultRow(_ o: Field) -> PrintedRow {
        // `CreationTimestamp.Time.UTC().Format(time.RFC3339)`: the zero time when missing.
        let created = o["metadata"]["creationTimestamp"].str.flatMap { parseTimestamp($0) }
        let seconds = created.map { Int64(($0.timeIntervalSince1970).rounded(.down)) } ?? -62_135_596_800
        return PrintedRow(cells: [.string(o.name), .string(RFC3339.format(seconds: seconds))])
    }

    // MARK: Custom resources (apiextensions-apiserver's tableconvertor)

    /// A column from a CRD's `additionalPrinterColumns` entry, with kube's default description
    /// (`Custom resource definition column (in JSONPath format): <jsonPath>`) when none is declared.
    public static func customColumn(
        name: String, type: String, format: String = "", description: String = "", priority: Int32 = 0,
        jsonPath: String
    ) -> TableColumn {
        TableColumn(
            name: name, type: type, format: format,
            description: description.isEmpty
                ? "Custom resource definition column (in JSONPath format): \(jsonPath)" : description,
            priority: priority)
    }

    /// The Table columns for a custom resource version: `Name`, then the declared columns in order; a version
    /// declaring none gets kube's default `Age` column (type `date`, from `.metadata.creationTimestamp`).
    public static func customResourceColumns(_ declared: [TableColumn]) -> [TableColumn] {
        [TableColumn(name: "Name", type: "string", format: "name", description: Doc.name)]
            + (declared.isEmpty ? [customAgeColumn] : declared)
    }

    private static let customAgeColumn = TableColumn(
        name: "Age", type: "date", description: Doc.creationTimestamp)

    /// The Table for a list of custom resources. `cells` are each row's values for the `declared` columns, already
    /// evaluated (see ``customCell(type:value:now:)``); missing ones become null. The name cell is prepended, and
    /// when nothing is declared the `Age` cell is computed here.
    public static func customTable(
        columns declared: [TableColumn], rows: [(object: JSONValue, cells: [JSONValue])], resourceVersion: String,
        continueToken: String? = nil, remainingItemCount: Int64? = nil, includeObject: IncludeObject = .metadata,
        includeColumns: Bool = true, now: Date = Date(), metaVersion: String = "v1"
    ) -> JSONValue {
        assemble(
            columns: includeColumns ? customResourceColumns(declared) : nil,
            rows: rows.map { (object: $0.object, row: customRow(declared, $0.object, $0.cells, now)) },
            resourceVersion: resourceVersion, continueToken: continueToken, remainingItemCount: remainingItemCount,
            includeObject: includeObject, metaVersion: metaVersion)
    }

    /// The Table for one custom resource (GET of one object, or a watch event).
    public static func customTable(
        columns declared: [TableColumn], object: JSONValue, cells: [JSONValue],
        includeObject: IncludeObject = .metadata, includeColumns: Bool = true, now: Date = Date(),
        metaVersion: String = "v1"
    ) -> JSONValue {
        assemble(
            columns: includeColumns ? customResourceColumns(declared) : nil,
            rows: [(object: object, row: customRow(declared, object, cells, now))],
            resourceVersion: object.string(at: "metadata.resourceVersion") ?? "", continueToken: nil,
            remainingItemCount: nil, includeObject: includeObject, metaVersion: metaVersion)
    }

    private static func customRow(_ declared: [TableColumn], _ object: JSONValue, _ cells: [JSONValue], _ now: Date)
        -> PrintedRow
    {
        let o = Field(object)
        var row: [JSONValue] = [.string(o.name)]
        if declared.isEmpty {
            row.append(.string(age(of: o["metadata"]["creationTimestamp"].str, now: now)))
        } else {
            for index in declared.indices {
                row.append(index < cells.count ? cells[index] : .null)
            }
        }
        return PrintedRow(cells: row)
    }

    /// kube's `cellForJSONValue` for a value a column's JSONPath found (nil when it found nothing): `integer`,
    /// `number`, `boolean` keep values of their type, `date` turns an RFC 3339 string into an age
    /// (`"<invalid>"` when unparsable), anything else is null. For `string` columns kube prints the value as
    /// JSONPath text: strings as they are, other scalars in Go's `fmt` form, objects and arrays as compact JSON.
    public static func customCell(type: String, value: JSONValue?, now: Date) -> JSONValue {
        guard let value, !value.isNull else { return .null }
        switch type {
        case "integer":
            if case .number(let literal) = value {
                if let i = Int64(literal) { return .integer(i) }
                if let d = Double(literal), d.isFinite, let i = Int64(exactly: d.rounded(.towardZero)) {
                    return .integer(i)
                }
            }
        case "number":
            if case .number(let literal) = value, let d = Double(literal), d.isFinite {
                return .number(GoFloat.json(d))
            }
        case "boolean":
            if case .bool = value { return value }
        case "string":
            return .string(jsonPathText(value))
        case "date":
            if case .string(let text) = value {
                if text.isEmpty || text == "null" { return .string("<unknown>") }
                guard parseTimestamp(text) != nil else { return .string("<invalid>") }
                return .string(age(of: text, now: now))
            }
        default:
            break
        }
        return .null
    }

    /// How client-go's JSONPath prints one result.
    private static func jsonPathText(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .null: return "<nil>"
        case .number(let literal):
            if let i = Int64(literal) { return String(i) }
            if let d = Double(literal) { return GoFloat.formatG(d) }
            return literal
        case .array, .object:
            let bytes = (try? sortedKeys(value).serialized()) ?? []
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Go marshals `map[string]interface{}` with sorted keys.
    private static func sortedKeys(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let elements): return .array(elements.map(sortedKeys))
        case .object(let members):
            var unique: [String: JSONValue] = [:]
            for member in members { unique[member.key] = member.value }
            return .object(unique.keys.sorted().map { (key: $0, value: sortedKeys(unique[$0]!)) })
        default: return value
        }
    }

    // MARK: Assembly

    static func assemble(
        columns: [TableColumn]?, rows: [(object: JSONValue, row: PrintedRow)]?, resourceVersion: String,
        continueToken: String?, remainingItemCount: Int64?, includeObject: IncludeObject, metaVersion: String
    ) -> JSONValue {
        var listMeta: [(key: String, value: JSONValue)] = []
        if !resourceVersion.isEmpty { listMeta.append((key: "resourceVersion", value: .string(resourceVersion))) }
        if let continueToken, !continueToken.isEmpty {
            listMeta.append((key: "continue", value: .string(continueToken)))
        }
        if let remainingItemCount { listMeta.append((key: "remainingItemCount", value: .integer(remainingItemCount))) }
        let apiVersion = "meta.k8s.io/" + metaVersion
        let rowValues: JSONValue =
            rows.map { rows in
                .array(
                    rows.map { entry in
                        var members: [(key: String, value: JSONValue)] = [(key: "cells", value: .array(entry.row.cells))]
                        if !entry.row.conditions.isEmpty {
                            members.append((key: "conditions", value: .array(entry.row.conditions)))
                        }
                        members.append(
                            (key: "object", value: rowObject(entry.object, includeObject, apiVersion: apiVersion)))
                        return .object(members)
                    })
            } ?? .null
        return .object([
            (key: "kind", value: .string("Table")),
            (key: "apiVersion", value: .string(apiVersion)),
            (key: "metadata", value: .object(listMeta)),
            (key: "columnDefinitions", value: columns.map { .array($0.map(\.json)) } ?? .null),
            (key: "rows", value: rowValues),
        ])
    }

    private static func rowObject(_ object: JSONValue, _ include: IncludeObject, apiVersion: String) -> JSONValue {
        switch include {
        case .none:
            return .null
        case .object:
            return object
        case .metadata:
            var metadata = object["metadata"] ?? .object([])
            if !metadata.isObject { metadata = .object([]) }
            // Go's ObjectMeta always writes creationTimestamp (null when unset).
            if metadata["creationTimestamp"] == nil { metadata[member: "creationTimestamp"] = .null }
            return .object([
                (key: "kind", value: .string("PartialObjectMetadata")),
                (key: "apiVersion", value: .string(apiVersion)),
                (key: "metadata", value: metadata),
            ])
        }
    }
}

// MARK: - Go number formatting

extension TablePrinter {
    /// Go's float formatting, for cells of custom resource columns.
    enum GoFloat {
        /// Shortest decimal digits of `x` (no sign) and the decimal point position: x = 0.d₁d₂… × 10^point.
        private static func decimal(_ x: Double) -> (digits: [UInt8], point: Int) {
            let text = String(describing: abs(x))  // Swift prints the shortest round-trip form, like Go
            var mantissa = Substring(text)
            var exponent = 0
            if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
                mantissa = text[..<e]
                exponent = Int(text[text.index(after: e)...]) ?? 0
            }
            var digits: [UInt8] = []
            var point = 0
            var seenPoint = false
            for c in mantissa.utf8 {
                if c == UInt8(ascii: ".") {
                    seenPoint = true
                    continue
                }
                if digits.isEmpty && c == UInt8(ascii: "0") {
                    if seenPoint { point -= 1 }
                    continue
                }
                digits.append(c)
                if !seenPoint { point += 1 }
            }
            while digits.last == UInt8(ascii: "0") { digits.removeLast() }
            if digits.isEmpty { return ([UInt8(ascii: "0")], 1) }
            return (digits, point + exponent)
        }

        private static func exponentForm(_ digits: [UInt8], _ point: Int, minExponentDigits: Int) -> String {
            var s = String(decoding: digits[0..<1], as: UTF8.self)
            if digits.count > 1 { s += "." + String(decoding: digits[1...], as: UTF8.self) }
            let e = point - 1
            var exp = String(abs(e))
            if exp.count < minExponentDigits { exp = String(repeating: "0", count: minExponentDigits - exp.count) + exp }
            return s + (e < 0 ? "e-" : "e+") + exp
        }

        private static func fixedForm(_ digits: [UInt8], _ point: Int) -> String {
            let d = String(decoding: digits, as: UTF8.self)
            if point <= 0 { return "0." + String(repeating: "0", count: -point) + d }
            if point >= digits.count { return d + String(repeating: "0", count: point - digits.count) }
            let i = d.index(d.startIndex, offsetBy: point)
            return String(d[..<i]) + "." + String(d[i...])
        }

        /// `strconv.FormatFloat(x, 'g', -1, 64)`, which is also `fmt`'s `%v`.
        static func formatG(_ x: Double) -> String {
            if x.isNaN { return "NaN" }
            if x.isInfinite { return x < 0 ? "-Inf" : "+Inf" }
            let sign = x.sign == .minus && x != 0 ? "-" : ""
            if x == 0 { return x.sign == .minus ? "-0" : "0" }
            let (digits, point) = decimal(x)
            let e = point - 1
            // Shortest formatting decides with a precision of 6.
            if e < -4 || e >= 6 { return sign + exponentForm(digits, point, minExponentDigits: 2) }
            return sign + fixedForm(digits, point)
        }

        /// encoding/json's float64 form: fixed notation, or exponent notation below 1e-6 or from 1e21 (`1e-7`).
        static func json(_ x: Double) -> String {
            if x == 0 { return "0" }
            let sign = x < 0 ? "-" : ""
            let (digits, point) = decimal(x)
            let a = abs(x)
            if a < 1e-6 || a >= 1e21 { return sign + exponentForm(digits, point, minExponentDigits: 1) }
            return sign + fixedForm(digits, point)
        }
    }
}

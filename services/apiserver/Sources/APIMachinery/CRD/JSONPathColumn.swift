// additionalPrinterColumns: the JSONPath subset Kubernetes' table convertor evaluates (`.spec.a.b`,
// `.status.x[0].y`, `['dotted.key']`, `[*]`, `[-1]`, `[1:3]`, `..name`, `[?(@.type=="Ready")]`) and the cell each
// column type renders, as `tableconvertor` does: the first result only; a missing value is a null cell.

import EdgeProtocol

/// One printer column, ready to evaluate against objects.
public struct JSONPathColumn: Sendable {
    /// A JSONPath that does not parse.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public let name: String
    /// `string`, `integer`, `number`, `boolean` or `date`.
    public let type: String
    public let format: String
    public let description: String
    public let priority: Int32
    public let jsonPath: String
    private let steps: [Step]

    public init(
        name: String = "", type: String = "string", format: String = "", description: String = "",
        priority: Int32 = 0, jsonPath: String
    ) throws(ParseError) {
        self.name = name
        self.type = type
        self.format = format
        self.description = description
        self.priority = priority
        self.jsonPath = jsonPath
        var parser = Parser(jsonPath)
        self.steps = try parser.parseTemplate()
    }

    public init(_ column: CRDDefinition.PrinterColumn) throws(ParseError) {
        try self.init(
            name: column.name, type: column.type, format: column.format, description: column.description,
            priority: column.priority, jsonPath: column.jsonPath)
    }

    /// The column Kubernetes shows when a CRD version declares none: `Age` from `.metadata.creationTimestamp`.
    public static var age: JSONPathColumn {
        // A constant path that parses.
        try! JSONPathColumn(
            name: "Age", type: "date",
            description:
                "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
            jsonPath: ".metadata.creationTimestamp")
    }

    /// Every value the path selects, in order.
    public func results(in object: JSONValue) -> [JSONValue] {
        Self.evaluate(steps, on: [object])
    }

    /// The table cell for `object`: the first result rendered for the column's type, `.null` when there is no
    /// value or it does not fit the type. `date` cells are the timestamp string as it is (the server shows ages).
    public func cell(for object: JSONValue) -> JSONValue {
        guard let value = results(in: object).first, !value.isNull else { return .null }
        switch type {
        case "string":
            return .string(Self.text(of: value))
        case "integer":
            switch CRDGoFormat.Number(value) {
            case .int(let i)?: return .integer(i)
            case .float(let d)?:
                guard d.isFinite, abs(d) < 9.2e18 else { return .null }
                return .integer(Int64(d.rounded(.towardZero)))
            case nil: return .null
            }
        case "number":
            guard let n = CRDGoFormat.Number(value) else { return .null }
            return .number(CRDGoFormat.formatJSON(n.double))
        case "boolean":
            if case .bool = value { return value }
            return .null
        case "date":
            if case .string = value { return value }
            return .null
        default:
            return .null
        }
    }

    /// How `kubectl`'s JSONPath prints a value: strings as they are, numbers as Go prints int64/float64, maps
    /// and lists as compact JSON with sorted keys.
    public static func text(of value: JSONValue) -> String {
        switch value {
        case .string(let s): s
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        case .number(let literal): CRDGoFormat.number(literal)
        case .array, .object: CRDGoFormat.json(value)
        }
    }

    // MARK: - Steps

    private indirect enum Step: Sendable {
        case field(String)
        case wildcard
        case index(Int)
        case slice(start: Int?, end: Int?, step: Int?)
        case recursive
        case filter(Filter)
        case union([Step])
    }

    private struct Filter: Sendable {
        enum Op: String, Sendable { case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=" }
        var path: [Step]
        var op: Op?
        var literal: JSONValue?
    }

    private static func evaluate(_ steps: [Step], on input: [JSONValue]) -> [JSONValue] {
        var current = input
        for step in steps {
            current = apply(step, to: current)
            if current.isEmpty { break }
        }
        return current
    }

    private static func apply(_ step: Step, to values: [JSONValue]) -> [JSONValue] {
        var out: [JSONValue] = []
        for value in values {
            switch step {
            case .field(let name):
                if let v = value[name] { out.append(v) }
            case .wildcard:
                if let members = value.objectMembers {
                    out += CRDGoFormat.lastWins(members).map(\.value)
                } else if let elements = value.arrayValue {
                    out += elements
                }
            case .index(let i):
                guard let elements = value.arrayValue else { continue }
                let k = i < 0 ? i + elements.count : i
                if k >= 0 && k < elements.count { out.append(elements[k]) }
            case .slice(let start, let end, let stride):
                guard let elements = value.arrayValue else { continue }
                let n = elements.count
                func clamp(_ v: Int) -> Int { max(0, min(n, v < 0 ? v + n : v)) }
                let s = clamp(start ?? 0)
                let e = clamp(end ?? n)
                let by = stride ?? 1
                guard by > 0 else { continue }
                var k = s
                while k < e {
                    out.append(elements[k])
                    k += by
                }
            case .recursive:
                collectDescendants(value, into: &out)
            case .filter(let filter):
                guard let elements = value.arrayValue else { continue }
                out += elements.filter { matches(filter, $0) }
            case .union(let alternatives):
                for alternative in alternatives { out += apply(alternative, to: [value]) }
            }
        }
        return out
    }

    private static func collectDescendants(_ value: JSONValue, into out: inout [JSONValue]) {
        out.append(value)
        if let members = value.objectMembers {
            for member in CRDGoFormat.lastWins(members) { collectDescendants(member.value, into: &out) }
        } else if let elements = value.arrayValue {
            for element in elements { collectDescendants(element, into: &out) }
        }
    }

    private static func matches(_ filter: Filter, _ element: JSONValue) -> Bool {
        let found = evaluate(filter.path, on: [element])
        guard let op = filter.op, let literal = filter.literal else { return !found.isEmpty }
        guard let lhs = found.first else { return false }
        switch (lhs, literal) {
        case (.number, .number):
            guard let a = CRDGoFormat.Number(lhs)?.double, let b = CRDGoFormat.Number(literal)?.double else {
                return false
            }
            switch op {
            case .eq: return a == b
            case .ne: return a != b
            case .lt: return a < b
            case .le: return a <= b
            case .gt: return a > b
            case .ge: return a >= b
            }
        case (.string(let a), .string(let b)):
            switch op {
            case .eq: return a == b
            case .ne: return a != b
            case .lt: return CRDGoFormat.goLess(a, b)
            case .le: return !CRDGoFormat.goLess(b, a)
            case .gt: return CRDGoFormat.goLess(b, a)
            case .ge: return !CRDGoFormat.goLess(a, b)
            }
        default:
            switch op {
            case .eq: return lhs == literal
            case .ne: return lhs != literal
            default: return false
            }
        }
    }

    // MARK: - Parser

    private struct Parser {
        let chars: [Character]
        var pos = 0
        let source: String

        init(_ source: String) {
            self.source = source
            self.chars = Array(source)
        }

        func fail(_ why: String) -> ParseError {
            ParseError(message: "unrecognized JSONPath \(CRDGoFormat.quote(source)): \(why)")
        }

        var atEnd: Bool { pos >= chars.count }
        var peek: Character? { atEnd ? nil : chars[pos] }

        /// The whole column path: optionally wrapped in `{}` and starting with `$`.
        mutating func parseTemplate() throws(ParseError) -> [Step] {
            var body = chars
            while let first = body.first, first == " " { body.removeFirst() }
            while let last = body.last, last == " " { body.removeLast() }
            if body.first == "{" && body.last == "}" { body = Array(body.dropFirst().dropLast()) }
            var inner = Parser(String(body))
            let steps = try inner.parsePath(stopAt: [])
            guard inner.atEnd else { throw fail("unexpected \(CRDGoFormat.quote(String(inner.chars[inner.pos...])))") }
            return steps
        }

        /// Steps until the end or a character of `stopAt` (outside brackets).
        mutating func parsePath(stopAt: Set<Character>) throws(ParseError) -> [Step] {
            var steps: [Step] = []
            if peek == "$" || peek == "@" { pos += 1 }
            while let c = peek, !stopAt.contains(c) {
                if c == "." {
                    pos += 1
                    if peek == "." {
                        pos += 1
                        steps.append(.recursive)
                    }
                    if peek == "*" {
                        pos += 1
                        steps.append(.wildcard)
                    } else if peek == "[" {
                        continue
                    } else {
                        let name = parseFieldName(stopAt: stopAt)
                        if name.isEmpty {
                            if steps.isEmpty && (atEnd || stopAt.contains(peek!)) { break }  // "." alone
                            throw fail("empty field name at offset \(pos)")
                        }
                        steps.append(.field(name))
                    }
                } else if c == "[" {
                    steps.append(try parseBracket())
                } else if c == " " && !stopAt.isEmpty {
                    break
                } else {
                    throw fail("unexpected \(CRDGoFormat.quote(String(c))) at offset \(pos)")
                }
            }
            return steps
        }

        /// A field name after `.`: up to `.`, `[` or a stop character; `\` escapes the next character.
        mutating func parseFieldName(stopAt: Set<Character>) -> String {
            var name = ""
            while let c = peek {
                if c == "\\", pos + 1 < chars.count {
                    name.append(chars[pos + 1])
                    pos += 2
                    continue
                }
                if c == "." || c == "[" || c == " " || stopAt.contains(c) { break }
                name.append(c)
                pos += 1
            }
            return name
        }

        mutating func parseBracket() throws(ParseError) -> Step {
            pos += 1  // [
            skipSpaces()
            guard let c = peek else { throw fail("unterminated [") }
            var step: Step
            if c == "*" {
                pos += 1
                step = .wildcard
            } else if c == "?" {
                pos += 1
                skipSpaces()
                guard peek == "(" else { throw fail("expected ( after ?") }
                pos += 1
                step = .filter(try parseFilter())
                skipSpaces()
                guard peek == ")" else { throw fail("expected ) to close the filter") }
                pos += 1
            } else if c == "'" || c == "\"" {
                var names: [Step] = []
                while true {
                    skipSpaces()
                    guard let q = peek, q == "'" || q == "\"" else { throw fail("expected a quoted name") }
                    names.append(.field(try parseQuoted()))
                    skipSpaces()
                    if peek == "," {
                        pos += 1
                        continue
                    }
                    break
                }
                step = names.count == 1 ? names[0] : .union(names)
            } else {
                step = try parseIndexOrSlice()
            }
            skipSpaces()
            guard peek == "]" else { throw fail("expected ] at offset \(pos)") }
            pos += 1
            return step
        }

        mutating func skipSpaces() {
            while peek == " " { pos += 1 }
        }

        mutating func parseQuoted() throws(ParseError) -> String {
            let quote = chars[pos]
            pos += 1
            var text = ""
            while let c = peek, c != quote {
                if c == "\\", pos + 1 < chars.count {
                    text.append(chars[pos + 1])
                    pos += 2
                    continue
                }
                text.append(c)
                pos += 1
            }
            guard peek == quote else { throw fail("unterminated string") }
            pos += 1
            return text
        }

        mutating func parseInt() -> Int? {
            let start = pos
            if peek == "-" || peek == "+" { pos += 1 }
            while let c = peek, c.isASCII, c.isNumber { pos += 1 }
            let text = String(chars[start..<pos])
            if text.isEmpty { return nil }
            guard let v = Int(text) else {
                pos = start
                return nil
            }
            return v
        }

        mutating func parseIndexOrSlice() throws(ParseError) -> Step {
            var parts: [Int?] = [parseInt()]
            skipSpaces()
            while peek == ":" {
                pos += 1
                skipSpaces()
                parts.append(parseInt())
                skipSpaces()
            }
            switch parts.count {
            case 1:
                guard let i = parts[0] else { throw fail("expected an index at offset \(pos)") }
                return .index(i)
            case 2, 3:
                return .slice(start: parts[0], end: parts[1], step: parts.count == 3 ? parts[2] : nil)
            default:
                throw fail("too many : in a slice")
            }
        }

        mutating func parseFilter() throws(ParseError) -> Filter {
            skipSpaces()
            guard peek == "@" else { throw fail("a filter must start with @") }
            let path = try parsePath(stopAt: ["=", "!", "<", ">", ")"])
            skipSpaces()
            var op: Filter.Op?
            for candidate in [Filter.Op.eq, .ne, .le, .ge, .lt, .gt] {
                let symbol = Array(candidate.rawValue)
                if pos + symbol.count <= chars.count && Array(chars[pos..<pos + symbol.count]) == symbol {
                    op = candidate
                    pos += symbol.count
                    break
                }
            }
            guard let op else { return Filter(path: path, op: nil, literal: nil) }
            skipSpaces()
            return Filter(path: path, op: op, literal: try parseLiteral())
        }

        mutating func parseLiteral() throws(ParseError) -> JSONValue {
            guard let c = peek else { throw fail("expected a value after the operator") }
            if c == "'" || c == "\"" { return .string(try parseQuoted()) }
            let start = pos
            while let d = peek, d != ")", d != " " { pos += 1 }
            let word = String(chars[start..<pos])
            switch word {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "null", "nil": return .null
            default:
                if CRDGoFormat.Number(literal: word) != nil { return .number(word) }
                throw fail("unrecognized value \(CRDGoFormat.quote(word)) in filter")
            }
        }
    }
}

// The OPC UA binary encoding (OPC 10000-6 §5.2) of the built-in types: little-endian integers and IEEE floats,
// length-prefixed strings, NodeIds in their compact forms, Variants, DataValues, ExtensionObjects. Pure: no I/O.
// The reader never trusts a length: every count is checked against the bytes left before anything is allocated.

import Foundation

public struct UADecodingError: Error, Sendable, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Appends binary-encoded values.
public struct UAWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func append(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }
    public mutating func boolean(_ v: Bool) { bytes.append(v ? 1 : 0) }
    public mutating func byte(_ v: UInt8) { bytes.append(v) }
    public mutating func sbyte(_ v: Int8) { bytes.append(UInt8(bitPattern: v)) }
    public mutating func uint16(_ v: UInt16) { little(UInt64(v), 2) }
    public mutating func int16(_ v: Int16) { uint16(UInt16(bitPattern: v)) }
    public mutating func uint32(_ v: UInt32) { little(UInt64(v), 4) }
    public mutating func int32(_ v: Int32) { uint32(UInt32(bitPattern: v)) }
    public mutating func uint64(_ v: UInt64) { little(v, 8) }
    public mutating func int64(_ v: Int64) { uint64(UInt64(bitPattern: v)) }
    public mutating func float(_ v: Float) { uint32(v.bitPattern) }
    public mutating func double(_ v: Double) { uint64(v.bitPattern) }

    private mutating func little(_ v: UInt64, _ count: Int) {
        for i in 0..<count { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * i))) }
    }

    /// nil is the null string (length -1).
    public mutating func string(_ v: String?) {
        guard let v else { int32(-1); return }
        let utf8 = Array(v.utf8)
        int32(Int32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    public mutating func byteString(_ v: [UInt8]?) {
        guard let v else { int32(-1); return }
        int32(Int32(v.count))
        bytes.append(contentsOf: v)
    }

    public mutating func array<T>(_ items: [T]?, _ element: (inout UAWriter, T) -> Void) {
        guard let items else { int32(-1); return }
        int32(Int32(items.count))
        for item in items { element(&self, item) }
    }
}

/// Reads binary-encoded values from a bounded slice.
public struct UAReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    let end: Int
    /// Nesting left for Variants, DataValues and DiagnosticInfos (the spec's recursion limit is 100).
    var depth = 32

    public init(_ bytes: [UInt8], offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = min(end ?? bytes.count, bytes.count)
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset >= end }

    public mutating func take(_ count: Int) throws(UADecodingError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw UADecodingError("need \(count) bytes at offset \(offset), \(remaining) left")
        }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    private mutating func little(_ count: Int) throws(UADecodingError) -> UInt64 {
        let raw = try take(count)
        var v: UInt64 = 0
        for (i, b) in raw.enumerated() { v |= UInt64(b) << UInt64(8 * i) }
        return v
    }

    public mutating func boolean() throws(UADecodingError) -> Bool { try byte() != 0 }
    public mutating func byte() throws(UADecodingError) -> UInt8 { try take(1).first! }
    public mutating func sbyte() throws(UADecodingError) -> Int8 { Int8(bitPattern: try byte()) }
    public mutating func uint16() throws(UADecodingError) -> UInt16 { UInt16(try little(2)) }
    public mutating func int16() throws(UADecodingError) -> Int16 { Int16(bitPattern: try uint16()) }
    public mutating func uint32() throws(UADecodingError) -> UInt32 { UInt32(try little(4)) }
    public mutating func int32() throws(UADecodingError) -> Int32 { Int32(bitPattern: try uint32()) }
    public mutating func uint64() throws(UADecodingError) -> UInt64 { try little(8) }
    public mutating func int64() throws(UADecodingError) -> Int64 { Int64(bitPattern: try uint64()) }
    public mutating func float() throws(UADecodingError) -> Float { Float(bitPattern: try uint32()) }
    public mutating func double() throws(UADecodingError) -> Double { Double(bitPattern: try uint64()) }

    public mutating func byteString() throws(UADecodingError) -> [UInt8]? {
        let length = try int32()
        if length < 0 { return nil }
        return Array(try take(Int(length)))
    }

    public mutating func string() throws(UADecodingError) -> String? {
        try byteString().map { String(decoding: $0, as: UTF8.self) }
    }

    /// An array, nil for the null array. Each element takes at least `minimumElementSize` bytes, so a count larger
    /// than the bytes left can be refused before anything is read.
    public mutating func array<T>(minimumElementSize: Int = 1, _ element: (inout UAReader) throws(UADecodingError) -> T)
        throws(UADecodingError) -> [T]?
    {
        let count = try int32()
        if count < 0 { return nil }
        guard Int(count) * max(1, minimumElementSize) <= remaining else {
            throw UADecodingError("array of \(count) elements does not fit the \(remaining) bytes left")
        }
        var items: [T] = []
        items.reserveCapacity(Int(count))
        for _ in 0..<count { items.append(try element(&self)) }
        return items
    }

    mutating func nested<T>(_ body: (inout UAReader) throws(UADecodingError) -> T) throws(UADecodingError) -> T {
        guard depth > 0 else { throw UADecodingError("nesting deeper than allowed") }
        depth -= 1
        defer { depth += 1 }
        return try body(&self)
    }
}

// MARK: - Built-in types

public struct UAGuid: Sendable, Hashable, CustomStringConvertible {
    public var data1: UInt32
    public var data2: UInt16
    public var data3: UInt16
    public var data4: [UInt8]

    public init(data1: UInt32, data2: UInt16, data3: UInt16, data4: [UInt8]) {
        self.data1 = data1
        self.data2 = data2
        self.data3 = data3
        self.data4 = data4
    }

    /// `72962B91-FA75-4AE6-8D28-B404DC7DAF63`.
    public init?(_ text: String) {
        let hex = text.filter { $0 != "-" }
        guard hex.count == 32, text.count == 36, let _ = UInt64(hex.prefix(16), radix: 16) else { return nil }
        func part(_ from: Int, _ length: Int) -> UInt64? {
            let start = hex.index(hex.startIndex, offsetBy: from)
            return UInt64(hex[start..<hex.index(start, offsetBy: length)], radix: 16)
        }
        guard let d1 = part(0, 8), let d2 = part(8, 4), let d3 = part(12, 4) else { return nil }
        var d4: [UInt8] = []
        for i in 0..<8 {
            guard let b = part(16 + 2 * i, 2) else { return nil }
            d4.append(UInt8(b))
        }
        self.init(data1: UInt32(d1), data2: UInt16(d2), data3: UInt16(d3), data4: d4)
    }

    public var description: String {
        func hex(_ v: UInt64, _ width: Int) -> String {
            let s = String(v, radix: 16, uppercase: true)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(hex(UInt64(data1), 8))-\(hex(UInt64(data2), 4))-\(hex(UInt64(data3), 4))-"
            + data4[0..<2].map { hex(UInt64($0), 2) }.joined() + "-" + data4[2..<8].map { hex(UInt64($0), 2) }.joined()
    }

    func encode(_ w: inout UAWriter) {
        w.uint32(data1)
        w.uint16(data2)
        w.uint16(data3)
        w.append(data4)
    }

    static func decode(_ r: inout UAReader) throws(UADecodingError) -> UAGuid {
        UAGuid(data1: try r.uint32(), data2: try r.uint16(), data3: try r.uint16(), data4: Array(try r.take(8)))
    }
}

/// A NodeId: namespace index and one of four identifier kinds. Text form as in the spec: `ns=2;s=Name`, `i=85`,
/// `ns=1;g=…`, `ns=1;b=<base64>`.
public struct UANodeId: Sendable, Hashable, CustomStringConvertible {
    public enum Identifier: Sendable, Hashable {
        case numeric(UInt32)
        case string(String)
        case guid(UAGuid)
        case opaque([UInt8])
    }

    public var namespace: UInt16
    public var identifier: Identifier

    public init(namespace: UInt16 = 0, _ identifier: Identifier) {
        self.namespace = namespace
        self.identifier = identifier
    }

    public static func numeric(_ id: UInt32, namespace: UInt16 = 0) -> UANodeId { UANodeId(namespace: namespace, .numeric(id)) }
    public static let null = UANodeId(.numeric(0))

    public init?(_ text: String) {
        var namespace: UInt16 = 0
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if rest.hasPrefix("ns=") {
            guard let semicolon = rest.firstIndex(of: ";"), let ns = UInt16(rest[rest.index(rest.startIndex, offsetBy: 3)..<semicolon]) else {
                return nil
            }
            namespace = ns
            rest = rest[rest.index(after: semicolon)...]
        }
        guard rest.count >= 2, rest[rest.index(after: rest.startIndex)] == "=" else { return nil }
        let value = String(rest.dropFirst(2))
        switch rest.first {
        case "i": guard let n = UInt32(value) else { return nil }; identifier = .numeric(n)
        case "s": identifier = .string(value)
        case "g": guard let g = UAGuid(value) else { return nil }; identifier = .guid(g)
        case "b": guard let data = Data(base64Encoded: value) else { return nil }; identifier = .opaque(Array(data))
        default: return nil
        }
        self.namespace = namespace
    }

    public var description: String {
        let prefix = namespace == 0 ? "" : "ns=\(namespace);"
        switch identifier {
        case .numeric(let n): return prefix + "i=\(n)"
        case .string(let s): return prefix + "s=\(s)"
        case .guid(let g): return prefix + "g=\(g)"
        case .opaque(let b): return prefix + "b=" + Data(b).base64EncodedString()
        }
    }

    public var isNull: Bool { namespace == 0 && identifier == .numeric(0) }

    public func encode(_ w: inout UAWriter) { encode(&w, flags: 0) }

    func encode(_ w: inout UAWriter, flags: UInt8) {
        switch identifier {
        case .numeric(let n) where namespace == 0 && n <= 0xFF:
            w.byte(0x00 | flags)
            w.byte(UInt8(n))
        case .numeric(let n) where namespace <= 0xFF && n <= 0xFFFF:
            w.byte(0x01 | flags)
            w.byte(UInt8(namespace))
            w.uint16(UInt16(n))
        case .numeric(let n):
            w.byte(0x02 | flags)
            w.uint16(namespace)
            w.uint32(n)
        case .string(let s):
            w.byte(0x03 | flags)
            w.uint16(namespace)
            w.string(s)
        case .guid(let g):
            w.byte(0x04 | flags)
            w.uint16(namespace)
            g.encode(&w)
        case .opaque(let b):
            w.byte(0x05 | flags)
            w.uint16(namespace)
            w.byteString(b)
        }
    }

    public static func decode(_ r: inout UAReader) throws(UADecodingError) -> UANodeId {
        try decode(&r, encoding: try r.byte())
    }

    static func decode(_ r: inout UAReader, encoding: UInt8) throws(UADecodingError) -> UANodeId {
        switch encoding & 0x3F {
        case 0x00: return .numeric(UInt32(try r.byte()))
        case 0x01: return UANodeId(namespace: UInt16(try r.byte()), .numeric(UInt32(try r.uint16())))
        case 0x02: return UANodeId(namespace: try r.uint16(), .numeric(try r.uint32()))
        case 0x03: return UANodeId(namespace: try r.uint16(), .string(try r.string() ?? ""))
        case 0x04: return UANodeId(namespace: try r.uint16(), .guid(try UAGuid.decode(&r)))
        case 0x05: return UANodeId(namespace: try r.uint16(), .opaque(try r.byteString() ?? []))
        default: throw UADecodingError("unknown NodeId encoding 0x\(String(encoding, radix: 16))")
        }
    }
}

public struct UAExpandedNodeId: Sendable, Hashable {
    public var nodeId: UANodeId
    public var namespaceURI: String?
    public var serverIndex: UInt32

    public init(_ nodeId: UANodeId, namespaceURI: String? = nil, serverIndex: UInt32 = 0) {
        self.nodeId = nodeId
        self.namespaceURI = namespaceURI
        self.serverIndex = serverIndex
    }

    public func encode(_ w: inout UAWriter) {
        nodeId.encode(&w, flags: (namespaceURI != nil ? 0x80 : 0) | (serverIndex != 0 ? 0x40 : 0))
        if let namespaceURI { w.string(namespaceURI) }
        if serverIndex != 0 { w.uint32(serverIndex) }
    }

    public static func decode(_ r: inout UAReader) throws(UADecodingError) -> UAExpandedNodeId {
        let encoding = try r.byte()
        let nodeId = try UANodeId.decode(&r, encoding: encoding)
        let uri = encoding & 0x80 != 0 ? try r.string() : nil
        let server = encoding & 0x40 != 0 ? try r.uint32() : 0
        return UAExpandedNodeId(nodeId, namespaceURI: uri, serverIndex: server)
    }
}

public struct UAQualifiedName: Sendable, Hashable, CustomStringConvertible {
    public var namespace: UInt16
    public var name: String

    public init(namespace: UInt16 = 0, _ name: String) {
        self.namespace = namespace
        self.name = name
    }

    public var description: String { namespace == 0 ? name : "\(namespace):\(name)" }

    public func encode(_ w: inout UAWriter) {
        w.uint16(namespace)
        w.string(name)
    }

    public static func decode(_ r: inout UAReader) throws(UADecodingError) -> UAQualifiedName {
        UAQualifiedName(namespace: try r.uint16(), try r.string() ?? "")
    }
}

public struct UALocalizedText: Sendable, Hashable {
    public var locale: String?
    public var text: String?

    public init(locale: String? = nil, _ text: String?) {
        self.locale = locale
        self.text = text
    }

    public func encode(_ w: inout UAWriter) {
        w.byte((locale != nil ? 0x01 : 0) | (text != nil ? 0x02 : 0))
        if let locale { w.string(locale) }
        if let text { w.string(text) }
    }

    public static func decode(_ r: inout UAReader) throws(UADecodingError) -> UALocalizedText {
        let mask = try r.byte()
        let locale = mask & 0x01 != 0 ? try r.string() : nil
        let text = mask & 0x02 != 0 ? try r.string() : nil
        return UALocalizedText(locale: locale, text)
    }
}

/// A structure the receiver may not know: its encoding id and, when it has one, its binary body.
public struct UAExtensionObject: Sendable, Hashable {
    public var typeId: UANodeId
    public var body: [UInt8]?

    public init(typeId: UANodeId, body: [UInt8]?) {
        self.typeId = typeId
        self.body = body
    }

    public static let null = UAExtensionObject(typeId: .null, body: nil)

    public func encode(_ w: inout UAWriter) {
        typeId.encode(&w)
        if let body {
            w.byte(0x01)
            w.byteString(body)
        } else {
            w.byte(0x00)
        }
    }

    public static func decode(_ r: inout UAReader) throws(UADecodingError) -> UAExtensionObject {
        let typeId = try UANodeId.decode(&r)
        switch try r.byte() {
        case 0x00: return UAExtensionObject(typeId: typeId, body: nil)
        case 0x01, 0x02: return UAExtensionObject(typeId: typeId, body: try r.byteString() ?? [])
        case let other: throw UADecodingError("unknown ExtensionObject encoding \(other)")
        }
    }
}

/// DiagnosticInfo is only skipped: the mapper reports status codes.
enum UADiagnosticInfo {
    static func skip(_ r: inout UAReader) throws(UADecodingError) {
        let mask = try r.byte()
        for bit: UInt8 in [0x01, 0x02, 0x04, 0x08] where mask & bit != 0 { _ = try r.int32() }
        if mask & 0x10 != 0 { _ = try r.string() }
        if mask & 0x20 != 0 { _ = try r.uint32() }
        if mask & 0x40 != 0 { try r.nested { (inner) throws(UADecodingError) in try skip(&inner) } }
    }

    static func skipArray(_ r: inout UAReader) throws(UADecodingError) {
        _ = try r.array { (inner) throws(UADecodingError) in try skip(&inner) }
    }
}

/// A Variant: one value of a built-in type, or an array of them.
public indirect enum UAVariant: Sendable, Hashable {
    case null
    case boolean(Bool)
    case sbyte(Int8)
    case byte(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case float(Float)
    case double(Double)
    case string(String?)
    /// 100 ns ticks since 1601-01-01 UTC.
    case dateTime(Int64)
    case guid(UAGuid)
    case byteString([UInt8]?)
    case xmlElement(String?)
    case nodeId(UANodeId)
    case expandedNodeId(UAExpandedNodeId)
    case statusCode(UInt32)
    case qualifiedName(UAQualifiedName)
    case localizedText(UALocalizedText)
    case extensionObject(UAExtensionObject)
    case dataValue(UADataValue)
    case variant(UAVariant)
    /// An array of values of one built-in type (`type` as in the encoding mask), with its dimensions when
    /// it has more than one.
    case array(type: UInt8, [UAVariant], dimensions: [Int32]?)

    /// The built-in type id (1 Boolean … 25 DiagnosticInfo; 0 null).
    public var typeID: UInt8 {
        switch self {
        case .null: 0
        case .boolean: 1
        case .sbyte: 2
        case .byte: 3
        case .int16: 4
        case .uint16: 5
        case .int32: 6
        case .uint32: 7
        case .int64: 8
        case .uint64: 9
        case .float: 10
        case .double: 11
        case .string: 12
        case .dateTime: 13
        case .guid: 14
        case .byteString: 15
        case .xmlElement: 16
        case .nodeId: 17
        case .expandedNodeId: 18
        case .statusCode: 19
        case .qualifiedName: 20
        case .localizedText: 21
        case .extensionObject: 22
        case .dataValue: 23
        case .variant: 24
        case .array(let type, _, _): type
        }
    }

    public static let typeNames: [UInt8: String] = [
        1: "Boolean", 2: "SByte", 3: "Byte", 4: "Int16", 5: "UInt16", 6: "Int32", 7: "UInt32", 8: "Int64",
        9: "UInt64", 10: "Float", 11: "Double", 12: "String", 13: "DateTime", 14: "Guid", 15: "ByteString",
        16: "XmlElement", 17: "NodeId", 18: "ExpandedNodeId", 19: "StatusCode", 20: "QualifiedName",
        21: "LocalizedText", 22: "ExtensionObject", 23: "DataValue", 24: "Variant", 25: "DiagnosticInfo",
    ]

    public func encode(_ w: inout UAWriter) {
        switch self {
        case .null:
            w.byte(0)
        case .array(let type, let elements, let dimensions):
            w.byte(type | 0x80 | (dimensions != nil ? 0x40 : 0))
            w.int32(Int32(elements.count))
            for element in elements { element.encodeBody(&w) }
            if let dimensions { w.array(dimensions) { $0.int32($1) } }
        default:
            w.byte(typeID)
            encodeBody(&w)
        }
    }

    func encodeBody(_ w: inout UAWriter) {
        switch self {
        case .null, .array: break
        case .boolean(let v): w.boolean(v)
        case .sbyte(let v): w.sbyte(v)
        case .byte(let v): w.byte(v)
        case .int16(let v): w.int16(v)
        case .uint16(let v): w.uint16(v)
        case .int32(let v): w.int32(v)
        case .uint32(let v): w.uint32(v)
        case .int64(let v): w.int64(v)
        case .uint64(let v): w.uint64(v)
        case .float(let v): w.float(v)
        case .double(let v): w.double(v)
        case .string(let v): w.string(v)
        case .dateTime(let v): w.int64(v)
        case .guid(let v): v.encode(&w)
        case .byteString(let v): w.byteString(v)
        case .xmlElement(let v): w.string(v)
        case .nodeId(let v): v.encode(&w)
        case .expandedNodeId(let v): v.encode(&w)
        case .statusCode(let v): w.uint32(v)
        case .qualifiedName(let v): v.encode(&w)
        case .localizedText(let v): v.encode(&w)
        case .extensionObject(let v): v.encode(&w)
        case .dataValue(let v): v.encode(&w)
        case .variant(let v): v.encode(&w)
        }
    }

    public static func decode(_ r: inout UAReader) throws(UADecodingError) -> UAVariant {
        try r.nested { (r) throws(UADecodingError) -> UAVariant in
            let mask = try r.byte()
            let type = mask & 0x3F
            if mask & 0x80 != 0 {
                let elements = try r.array { (r) throws(UADecodingError) in try decodeBody(&r, type: type) } ?? []
                let dimensions = mask & 0x40 != 0 ? try r.array(minimumElementSize: 4) { (r) throws(UADecodingError) in try r.int32() } : nil
                return .array(type: type, elements, dimensions: dimensions)
            }
            return try decodeBody(&r, type: type)
        }
    }

    static func decodeBody(_ r: inout UAReader, type: UInt8) throws(UADecodingError) -> UAVariant {
        switch type {
        case 0: return .null
        case 1: return .boolean(try r.boolean())
        case 2: return .sbyte(try r.sbyte())
        case 3: return .byte(try r.byte())
        case 4: return .int16(try r.int16())
        case 5: return .uint16(try r.uint16())
        case 6: return .int32(try r.int32())
        case 7: return .uint32(try r.uint32())
        case 8: return .int64(try r.int64())
        case 9: return .uint64(try r.uint64())
        case 10: return .float(try r.float())
        case 11: return .double(try r.double())
        case 12: return .string(try r.string())
        case 13: return .dateTime(try r.int64())
        case 14: return .guid(try UAGuid.decode(&r))
        case 15: return .byteString(try r.byteString())
        case 16: return .xmlElement(try r.string())
        case 17: return .nodeId(try UANodeId.decode(&r))
        case 18: return .expandedNodeId(try UAExpandedNodeId.decode(&r))
        case 19: return .statusCode(try r.uint32())
        case 20: return .qualifiedName(try UAQualifiedName.decode(&r))
        case 21: return .localizedText(try UALocalizedText.decode(&r))
        case 22: return .extensionObject(try UAExtensionObject.decode(&r))
        case 23: return .dataValue(try UADataValue.decode(&r))
        case 24: return .variant(try UAVariant.decode(&r))
        case 25:
            try UADiagnosticInfo.skip(&r)
            return .null
        default: throw UADecodingError("unknown Variant type \(type)")
        }
    }
}

/// A value with its status and timestamps.
public struct UADataValue: Sendable, Hashable {
    public var value: UAVariant?
    public var status: UInt32
    public var sourceTimestamp: Int64?
    public var serverTimestamp: Int64?

    public init(value: UAVariant?, status: UInt32 = 0, sourceTimestamp: Int64? = nil, serverTimestamp: Int64? = nil) {
        self.value = value
        self.status = status
        self.sourceTimestamp = sourceTimestamp
        self.serverTimestamp = serverTimestamp
    }

    public func encode(_ w: inout UAWriter) {
        var mask: UInt8 = 0
        if value != nil { mask |= 0x01 }
        if status != 0 { mask |= 0x02 }
        if sourceTimestamp != nil { mask |= 0x04 }
        if serverTimestamp != nil { mask |= 0x08 }
        w.byte(mask)
        if let value { value.encode(&w) }
        if status != 0 { w.uint32(status) }
        if let sourceTimestamp { w.int64(sourceTimestamp) }
        if let serverTimestamp { w.int64(serverTimestamp) }
    }

    public static func decode(_ r: inout UAReader) throws(UADecodingError) -> UADataValue {
        try r.nested { (r) throws(UADecodingError) -> UADataValue in
            let mask = try r.byte()
            let value = mask & 0x01 != 0 ? try UAVariant.decode(&r) : nil
            let status = mask & 0x02 != 0 ? try r.uint32() : 0
            let source = mask & 0x04 != 0 ? try r.int64() : nil
            if mask & 0x10 != 0 { _ = try r.uint16() }
            let server = mask & 0x08 != 0 ? try r.int64() : nil
            if mask & 0x20 != 0 { _ = try r.uint16() }
            return UADataValue(value: value, status: status, sourceTimestamp: source, serverTimestamp: server)
        }
    }
}

/// OPC UA DateTime: 100 ns ticks since 1601-01-01 UTC.
public enum UADateTime {
    static let unixEpochTicks: Int64 = 116_444_736_000_000_000

    public static func now() -> Int64 {
        unixEpochTicks + Int64(Date().timeIntervalSince1970 * 10_000_000)
    }

    public static func rfc3339(_ ticks: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(ticks - unixEpochTicks) / 10_000_000)
        return Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }

    public static func ticks(rfc3339 text: String) -> Int64? {
        let date = (try? Date(text, strategy: .iso8601))
            ?? (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
        return date.map { unixEpochTicks + Int64(($0.timeIntervalSince1970 * 10_000_000).rounded()) }
    }
}

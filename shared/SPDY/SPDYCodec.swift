// SPDY/3.1 (draft-mbelshe-httpbis-spdy-00 §2.2) as Kubernetes' streaming protocols use it: kubelet's and
// containerd's CRI streaming servers (exec, attach, port-forward), and kubectl's port-forward tunnelled through a
// WebSocket. Pure framing; sessions are the callers'.

/// One SPDY/3.1 frame.
public enum SPDYFrame: Equatable, Sendable {
    case synStream(id: UInt32, headers: [SPDYHeader], fin: Bool = false)
    case synReply(id: UInt32, headers: [SPDYHeader] = [])
    case rstStream(id: UInt32, status: UInt32)
    case settings
    case ping(id: UInt32)
    case goAway(lastGood: UInt32, status: UInt32)
    case headers(id: UInt32)
    case windowUpdate(id: UInt32, delta: UInt32)
    case data(id: UInt32, fin: Bool, payload: [UInt8])
    case other(type: UInt16)

    /// RST_STREAM and GOAWAY status code for a peer that broke the protocol (§2.4.2).
    public static let protocolError: UInt32 = 1
}

/// A header: SPDY names are lower case; several values of one name are joined by NUL.
public struct SPDYHeader: Equatable, Sendable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

extension [SPDYHeader] {
    /// The first value of `name` (compared without case).
    public func value(_ name: String) -> String? {
        first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

public struct SPDYError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Encodes frames. Header blocks are one zlib stream per direction; ours are stored (uncompressed) deflate blocks,
/// which every inflater reads without the SPDY dictionary.
public struct SPDYFrameWriter: Sendable {
    private var headerStreamStarted = false

    public init() {}

    public mutating func encode(_ frame: SPDYFrame) -> [UInt8] {
        switch frame {
        case .synStream(let id, let headers, let fin):
            var payload: [UInt8] = []
            payload.appendBE32(id & 0x7fff_ffff)
            payload.appendBE32(0)           // associated stream
            payload += [0, 0]               // priority 0, slot 0
            payload += storedDeflate(Self.headerBlock(headers))
            return Self.control(type: 1, flags: fin ? 0x01 : 0, payload)
        case .synReply(let id, let headers):
            var payload: [UInt8] = []
            payload.appendBE32(id & 0x7fff_ffff)
            payload += storedDeflate(Self.headerBlock(headers))
            return Self.control(type: 2, flags: 0, payload)
        case .rstStream(let id, let status):
            var payload: [UInt8] = []
            payload.appendBE32(id)
            payload.appendBE32(status)
            return Self.control(type: 3, flags: 0, payload)
        case .ping(let id):
            var payload: [UInt8] = []
            payload.appendBE32(id)
            return Self.control(type: 6, flags: 0, payload)
        case .goAway(let lastGood, let status):
            var payload: [UInt8] = []
            payload.appendBE32(lastGood)
            payload.appendBE32(status)
            return Self.control(type: 7, flags: 0, payload)
        case .windowUpdate(let id, let delta):
            var payload: [UInt8] = []
            payload.appendBE32(id)
            payload.appendBE32(delta & 0x7fff_ffff)
            return Self.control(type: 9, flags: 0, payload)
        case .data(let id, let fin, let payload):
            return Self.data(id: id, fin: fin, payload)
        case .settings, .headers, .other:
            return []  // neither role here sends these
        }
    }

    /// A data frame (needs no header state, so any task may encode one).
    public static func data(id: UInt32, fin: Bool, _ payload: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 + payload.count)
        out.appendBE32(id & 0x7fff_ffff)
        out.append(fin ? 0x01 : 0x00)
        out += [UInt8(payload.count >> 16 & 0xff), UInt8(payload.count >> 8 & 0xff), UInt8(payload.count & 0xff)]
        out += payload
        return out
    }

    static func headerBlock(_ headers: [SPDYHeader]) -> [UInt8] {
        var block: [UInt8] = []
        block.appendBE32(UInt32(headers.count))
        for header in headers {
            block.appendBE32(UInt32(header.name.utf8.count))
            block += Array(header.name.utf8)
            block.appendBE32(UInt32(header.value.utf8.count))
            block += Array(header.value.utf8)
        }
        return block
    }

    /// Deflate stored blocks (zlib header on the stream's first block), ended by a sync flush.
    private mutating func storedDeflate(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        if !headerStreamStarted {
            out += [0x78, 0x01]  // deflate, 32K window, no preset dictionary
            headerStreamStarted = true
        }
        var offset = 0
        repeat {
            let count = min(0xffff, data.count - offset)
            out.append(0x00)  // BFINAL 0, BTYPE 00 (stored)
            out += [UInt8(count & 0xff), UInt8(count >> 8), UInt8(~count & 0xff), UInt8((~count >> 8) & 0xff)]
            out += data[offset..<offset + count]
            offset += count
        } while offset < data.count
        // A sync flush's empty stored block: it makes an inflater hand out the data above without waiting for the
        // next frame's bytes (Go's flate holds a stored block's data until it reads the next block header).
        out += [0x00, 0x00, 0x00, 0xff, 0xff]
        return out
    }

    private static func control(type: UInt16, flags: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [0x80, 0x03, UInt8(type >> 8), UInt8(type & 0xff), flags,
         UInt8(payload.count >> 16 & 0xff), UInt8(payload.count >> 8 & 0xff), UInt8(payload.count & 0xff)] + payload
    }
}

/// Splits received bytes into frames. With `readsHeaders`, the header blocks of SYN_STREAM and SYN_REPLY are
/// inflated (zlib with the SPDY dictionary, one stream for the connection) and parsed; without, they are skipped.
public struct SPDYFrameReader {
    private var buffer: [UInt8] = []
    private let inflater: HeaderInflater?
    /// Largest frame payload taken: Go's peers write at most 32 KiB (io.Copy's buffer) in one.
    public static let maxFrame = 1 << 20
    /// Largest decoded header block, and most headers in one.
    public static let maxHeaderBlock = 64 << 10
    public static let maxHeaders = 256

    public init(readsHeaders: Bool) {
        inflater = readsHeaders ? HeaderInflater(dictionary: SPDYDictionary.bytes) : nil
    }

    /// Frames completed by `bytes`. Throws when the bytes are not SPDY/3 (a frame over `maxFrame`, another version,
    /// a header block that does not inflate or parse): the connection cannot continue.
    public mutating func push(_ bytes: some Collection<UInt8>) throws(SPDYError) -> [SPDYFrame] {
        buffer += bytes
        var frames: [SPDYFrame] = []
        var start = 0
        defer { buffer.removeFirst(start) }
        while buffer.count - start >= 8 {
            let b = Array(buffer[start..<start + 8])
            let length = Int(b[5]) << 16 | Int(b[6]) << 8 | Int(b[7])
            guard length <= Self.maxFrame else { throw SPDYError("SPDY frame of \(length) bytes") }
            guard buffer.count - start >= 8 + length else { break }
            let payload = Array(buffer[(start + 8)..<(start + 8 + length)])
            start += 8 + length
            let fin = b[4] & 0x01 != 0
            if b[0] & 0x80 != 0 {
                let version = UInt16(b[0] & 0x7f) << 8 | UInt16(b[1])
                guard version == 3 else { throw SPDYError("SPDY version \(version) frame (only 3 is spoken)") }
                let type = UInt16(b[2]) << 8 | UInt16(b[3])
                let id = payload.count >= 4 ? payload.be32(0) & 0x7fff_ffff : 0
                switch type {
                case 1:
                    guard payload.count >= 10 else { throw SPDYError("SYN_STREAM of \(payload.count) bytes") }
                    frames.append(.synStream(id: id, headers: try headers(payload[10...]), fin: fin))
                case 2:
                    guard payload.count >= 4 else { throw SPDYError("SYN_REPLY of \(payload.count) bytes") }
                    frames.append(.synReply(id: id, headers: try headers(payload[4...])))
                case 3: frames.append(.rstStream(id: id, status: payload.count >= 8 ? payload.be32(4) : 0))
                case 4: frames.append(.settings)
                case 6: frames.append(.ping(id: payload.count >= 4 ? payload.be32(0) : 0))
                case 7: frames.append(.goAway(lastGood: id, status: payload.count >= 8 ? payload.be32(4) : 0))
                case 8:
                    // HEADERS continue the stream's block: inflated to keep the zlib stream in step, then dropped.
                    if payload.count > 4 { _ = try headers(payload[4...]) }
                    frames.append(.headers(id: id))
                case 9: frames.append(.windowUpdate(id: id, delta: payload.count >= 8 ? payload.be32(4) & 0x7fff_ffff : 0))
                default: frames.append(.other(type: type))
                }
            } else {
                let id = UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
                frames.append(.data(id: id & 0x7fff_ffff, fin: fin, payload: payload))
            }
        }
        return frames
    }

    private func headers(_ compressed: ArraySlice<UInt8>) throws(SPDYError) -> [SPDYHeader] {
        guard let inflater else { return [] }
        let block = try inflater.inflate(Array(compressed), limit: Self.maxHeaderBlock)
        return try Self.parseHeaderBlock(block)
    }

    /// A decoded header block: a 32-bit count, then for each a 32-bit length and name, a 32-bit length and value.
    static func parseHeaderBlock(_ block: [UInt8]) throws(SPDYError) -> [SPDYHeader] {
        guard block.count >= 4 else { throw SPDYError("SPDY header block of \(block.count) bytes") }
        let count = Int(block.be32(0))
        guard count <= Self.maxHeaders else { throw SPDYError("SPDY header block with \(count) headers") }
        var offset = 4
        func string() throws(SPDYError) -> String {
            guard block.count - offset >= 4 else { throw SPDYError("SPDY header block cut short") }
            let length = Int(block.be32(offset))
            offset += 4
            guard block.count - offset >= length else { throw SPDYError("SPDY header of \(length) bytes past the block") }
            defer { offset += length }
            return String(decoding: block[offset..<offset + length], as: UTF8.self)
        }
        var headers: [SPDYHeader] = []
        for _ in 0..<count {
            let name = try string()
            headers.append(SPDYHeader(name, try string()))
        }
        return headers
    }
}

extension Array where Element == UInt8 {
    mutating func appendBE32(_ value: UInt32) {
        append(UInt8(value >> 24))
        append(UInt8(value >> 16 & 0xff))
        append(UInt8(value >> 8 & 0xff))
        append(UInt8(value & 0xff))
    }

    func be32(_ offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16 | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }
}

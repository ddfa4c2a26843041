import EdgeProtocol

// The client side of Kubernetes' remote command protocol over SPDY/3.1 (what kubelet's and containerd's CRI
// streaming servers speak for exec and attach), as far as edged needs it. Pure framing here; the session is below.

/// One SPDY/3.1 frame (draft-mbelshe-httpbis-spdy-00 §2.2): control frames edged sends or must answer, data frames.
enum SPDYFrame: Equatable {
    case synStream(id: UInt32, headers: [(String, String)])
    case synReply(id: UInt32)
    case rstStream(id: UInt32, status: UInt32)
    case settings
    case ping(id: UInt32)
    case goAway(lastGood: UInt32, status: UInt32)
    case headers(id: UInt32)
    case windowUpdate(id: UInt32, delta: UInt32)
    case data(id: UInt32, fin: Bool, payload: [UInt8])
    case other(type: UInt16)

    static func == (a: SPDYFrame, b: SPDYFrame) -> Bool {
        switch (a, b) {
        case let (.synStream(i1, h1), .synStream(i2, h2)): i1 == i2 && h1.elementsEqual(h2, by: { $0 == $1 })
        case let (.synReply(i1), .synReply(i2)), let (.headers(i1), .headers(i2)), let (.ping(i1), .ping(i2)): i1 == i2
        case let (.rstStream(i1, s1), .rstStream(i2, s2)): i1 == i2 && s1 == s2
        case (.settings, .settings): true
        case let (.goAway(l1, s1), .goAway(l2, s2)): l1 == l2 && s1 == s2
        case let (.windowUpdate(i1, d1), .windowUpdate(i2, d2)): i1 == i2 && d1 == d2
        case let (.data(i1, f1, p1), .data(i2, f2, p2)): i1 == i2 && f1 == f2 && p1 == p2
        case let (.other(t1), .other(t2)): t1 == t2
        default: false
        }
    }
}

/// Encodes what edged sends and splits what the server sends into frames.
struct SPDYCodec {
    /// Header blocks are one zlib stream per direction. Ours uses stored (uncompressed) deflate blocks, which any
    /// inflater reads without the SPDY dictionary; the server's blocks are never inflated (edged needs none of them).
    private var headerStreamStarted = false
    private var buffer: [UInt8] = []
    static let maxFrame = 1 << 24

    mutating func encode(_ frame: SPDYFrame) -> [UInt8] {
        switch frame {
        case .synStream(let id, let headers):
            var block: [UInt8] = []
            block.appendBE32(UInt32(headers.count))
            for (name, value) in headers {
                block.appendBE32(UInt32(name.utf8.count))
                block += Array(name.utf8)
                block.appendBE32(UInt32(value.utf8.count))
                block += Array(value.utf8)
            }
            var payload: [UInt8] = []
            payload.appendBE32(id & 0x7fff_ffff)
            payload.appendBE32(0)           // associated stream
            payload += [0, 0]               // priority 0, slot 0
            payload += storedDeflate(block)
            return Self.control(type: 1, flags: 0, payload)
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
            var out: [UInt8] = []
            out.appendBE32(id & 0x7fff_ffff)
            out.append(fin ? 0x01 : 0x00)
            out += [UInt8(payload.count >> 16 & 0xff), UInt8(payload.count >> 8 & 0xff), UInt8(payload.count & 0xff)]
            return out + payload
        case .synReply, .settings, .headers, .other:
            return []  // the client role never sends these
        }
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

    /// Frames completed by `bytes`. A frame longer than 16 MiB is an error (the stream is not SPDY).
    mutating func push(_ bytes: [UInt8]) throws(StreamError) -> [SPDYFrame] {
        buffer += bytes
        var frames: [SPDYFrame] = []
        var start = 0
        defer { buffer.removeFirst(start) }
        while buffer.count - start >= 8 {
            let b = buffer[start..<start + 8].map { $0 }
            let length = Int(b[5]) << 16 | Int(b[6]) << 8 | Int(b[7])
            guard length < Self.maxFrame else { throw StreamError("SPDY frame of \(length) bytes") }
            guard buffer.count - start >= 8 + length else { break }
            let payload = Array(buffer[(start + 8)..<(start + 8 + length)])
            start += 8 + length
            if b[0] & 0x80 != 0 {
                let type = UInt16(b[2]) << 8 | UInt16(b[3])
                let id = payload.count >= 4 ? payload.be32(0) & 0x7fff_ffff : 0
                switch type {
                case 1: frames.append(.synStream(id: id, headers: []))
                case 2: frames.append(.synReply(id: id))
                case 3: frames.append(.rstStream(id: id, status: payload.count >= 8 ? payload.be32(4) : 0))
                case 4: frames.append(.settings)
                case 6: frames.append(.ping(id: payload.count >= 4 ? payload.be32(0) : 0))
                case 7: frames.append(.goAway(lastGood: id, status: payload.count >= 8 ? payload.be32(4) : 0))
                case 8: frames.append(.headers(id: id))
                case 9: frames.append(.windowUpdate(id: id, delta: payload.count >= 8 ? payload.be32(4) : 0))
                default: frames.append(.other(type: type))
                }
            } else {
                let id = UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
                frames.append(.data(id: id & 0x7fff_ffff, fin: b[4] & 0x01 != 0, payload: payload))
            }
        }
        return frames
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

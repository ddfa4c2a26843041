@testable import SPDY
import Testing
import TestSupport

/// SPDY/3.1 framing: what edged sends to the runtime's streaming server, and the API server's reading of kubectl's
/// port-forward frames (header blocks deflated by Go's zlib with the SPDY dictionary).
@Suite("SPDY codec")
struct SPDYCodecTests {
    @Test("SYN_STREAM with a stored-deflate header block; data frames; frames split anywhere")
    func frames() throws {
        var writer = SPDYFrameWriter()
        let syn = writer.encode(.synStream(id: 1, headers: [SPDYHeader("streamtype", "error")]))
        // The header block: zlib header, one stored block with the name/value pairs, a sync flush.
        #expect(Array(syn[18..<25]) == [0x78, 0x01, 0x00, 0x1b, 0x00, 0xe4, 0xff])
        #expect(Array(syn.suffix(5)) == [0x00, 0x00, 0x00, 0xff, 0xff])
        #expect(Array(syn[0..<4]) == [0x80, 0x03, 0x00, 0x01])
        #expect(Int(syn[5]) << 16 | Int(syn[6]) << 8 | Int(syn[7]) == syn.count - 8)
        let data = writer.encode(.data(id: 3, fin: true, payload: [1, 2, 3]))
        #expect(data == [0, 0, 0, 3, 1, 0, 0, 3, 1, 2, 3])
        let stream = syn + data + writer.encode(.ping(id: 7))
        for cut in 0...stream.count {
            var reader = SPDYFrameReader(readsHeaders: false)
            let frames = try reader.push(Array(stream[..<cut])) + reader.push(Array(stream[cut...]))
            #expect(frames == [.synStream(id: 1, headers: []), .data(id: 3, fin: true, payload: [1, 2, 3]), .ping(id: 7)])
        }
    }

    @Test("the dictionary is SPDY/3's: its Adler-32 is the one Go's zlib stream names")
    func dictionary() {
        #expect(SPDYDictionary.bytes.count == 1423)
        #expect(SPDYDictionary.adler32 == 0xe3c6_a7c2)
        // The DICTID in the header of the stream below (kubectl's first SYN_STREAM).
        #expect(Array(Self.goErrorBlock[2..<6]) == [0xe3, 0xc6, 0xa7, 0xc2])
    }

    /// The header blocks of a port-forward's error and data streams as Go's compress/zlib writes them with the SPDY
    /// dictionary at BestCompression (as spdystream does), one zlib stream for both, each flushed.
    static let goErrorBlock: [UInt8] = [
        0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2, 0x02, 0x25, 0x3a, 0x70, 0x3a, 0x2b, 0x29, 0x4a, 0x4d, 0xcc, 0x85, 0x16,
        0x25, 0xac, 0xa9, 0xa0, 0x80, 0x86, 0x14, 0xcb, 0x45, 0xe0, 0x1c, 0x60, 0x61, 0x60, 0x61, 0xc0, 0xc0, 0xc0,
        0xc0, 0x59, 0x04, 0x89, 0xc6, 0x4c, 0x50, 0xf2, 0x66, 0x34, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
    ]
    static let goDataBlock: [UInt8] = [0xc2, 0xaa, 0x19, 0x54, 0x0e, 0x25, 0x12, 0xd6, 0x0b, 0x00, 0x00, 0x00, 0xff, 0xff]

    static func synStream(id: UInt32, block: [UInt8], fin: Bool) -> [UInt8] {
        let length = 10 + block.count
        var frame: [UInt8] = [0x80, 0x03, 0x00, 0x01, fin ? 1 : 0, 0, UInt8(length >> 8), UInt8(length & 0xff)]
        frame += [0, 0, 0, UInt8(id), 0, 0, 0, 0, 0, 0]
        return frame + block
    }

    @Test("kubectl's port-forward SYN_STREAMs: headers read through one inflate stream, split anywhere")
    func portForwardHeaders() throws {
        let bytes = Self.synStream(id: 1, block: Self.goErrorBlock, fin: true)
            + Self.synStream(id: 3, block: Self.goDataBlock, fin: false)
            + SPDYFrameWriter.data(id: 3, fin: false, Array("GET / HTTP/1.1\r\n".utf8))
        let expected: [SPDYFrame] = [
            .synStream(id: 1, headers: [SPDYHeader("streamtype", "error"), SPDYHeader("port", "8080"),
                                        SPDYHeader("requestid", "0")], fin: true),
            .synStream(id: 3, headers: [SPDYHeader("streamtype", "data"), SPDYHeader("port", "8080"),
                                        SPDYHeader("requestid", "0")]),
            .data(id: 3, fin: false, payload: Array("GET / HTTP/1.1\r\n".utf8)),
        ]
        for cut in 0...bytes.count {
            var reader = SPDYFrameReader(readsHeaders: true)
            let frames = try reader.push(Array(bytes[..<cut])) + reader.push(Array(bytes[cut...]))
            #expect(frames == expected)
        }
        let headers = if case .synStream(_, let h, _) = expected[1] { h } else { [SPDYHeader]() }
        #expect(headers.value("Port") == "8080")
    }

    @Test("our SYN_REPLY reads back; a corrupt header block, another version or a huge frame is an error")
    func malformed() throws {
        var writer = SPDYFrameWriter()
        var reader = SPDYFrameReader(readsHeaders: true)
        let reply = writer.encode(.synReply(id: 5, headers: [SPDYHeader("a", "b")]))
        #expect(try reader.push(reply) == [.synReply(id: 5, headers: [SPDYHeader("a", "b")])])

        var corrupt = SPDYFrameReader(readsHeaders: true)
        #expect(throws: SPDYError.self) {
            try corrupt.push(Self.synStream(id: 1, block: [0x78, 0xf9, 0, 0, 0, 0, 0xde, 0xad], fin: false))
        }
        var spdy2 = SPDYFrameReader(readsHeaders: true)
        #expect(throws: SPDYError.self) { try spdy2.push([0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1]) }
        var huge = SPDYFrameReader(readsHeaders: false)
        #expect(throws: SPDYError.self) { try huge.push([0, 0, 0, 1, 0, 0xff, 0xff, 0xff]) }
        // A header block that inflates past 64 KiB (70,004 bytes from 93): refused, not inflated on.
        var bomb = SPDYFrameReader(readsHeaders: true)
        let zeros = [UInt8](repeating: 0, count: 67)
        let block: [UInt8] = [0x78, 0xda, 0xec, 0xc1, 0x31, 0x01, 0x00, 0x00, 0x0c, 0xc3, 0xa0, 0xcc, 0xbf, 0xe9, 0x99,
                              0xe8, 0x09, 0x54, 0x17] + zeros + [0x30, 0xf7, 0x00, 0x00, 0x00, 0xff, 0xff]
        let error = #expect(throws: SPDYError.self) { try bomb.push(Self.synStream(id: 1, block: block, fin: false)) }
        #expect(error?.description.contains("larger than") == true, "\(String(describing: error))")
        // A block that claims more headers than it holds.
        #expect(throws: SPDYError.self) { try SPDYFrameReader.parseHeaderBlock([0, 0, 0, 2, 0, 0, 0, 1, 0x61]) }
    }

    @Test("random bytes, and kubectl's frames with random bytes changed, end in frames or an error: never a trap",
          arguments: [UInt64(1), 2, 3])
    func fuzz(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let valid = Self.synStream(id: 1, block: Self.goErrorBlock, fin: true)
            + Self.synStream(id: 3, block: Self.goDataBlock, fin: false)
            + SPDYFrameWriter.data(id: 3, fin: false, Array("GET / HTTP/1.1\r\n".utf8))
        for round in 0..<2000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                bytes = valid
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            var reader = SPDYFrameReader(readsHeaders: true)
            let cut = Int.random(in: 0...bytes.count, using: &rng)
            _ = try? reader.push(bytes[..<cut])
            _ = try? reader.push(bytes[cut...])
        }
    }
}

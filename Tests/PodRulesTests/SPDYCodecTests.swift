@testable import EdgedService
import Testing

/// The SPDY/3.1 frames edged sends to the runtime's streaming server, and its reading of the server's frames.
@Suite("SPDY codec")
struct SPDYCodecTests {
    @Test("SYN_STREAM with a stored-deflate header block; data frames; frames split anywhere")
    func frames() throws {
        var codec = SPDYCodec()
        let syn = codec.encode(.synStream(id: 1, headers: [("streamtype", "error")]))
        // The header block: zlib header, one stored block with the name/value pairs, a sync flush.
        #expect(Array(syn[18..<25]) == [0x78, 0x01, 0x00, 0x1b, 0x00, 0xe4, 0xff])
        #expect(Array(syn.suffix(5)) == [0x00, 0x00, 0x00, 0xff, 0xff])
        #expect(Array(syn[0..<4]) == [0x80, 0x03, 0x00, 0x01])
        #expect(Int(syn[5]) << 16 | Int(syn[6]) << 8 | Int(syn[7]) == syn.count - 8)
        let data = codec.encode(.data(id: 3, fin: true, payload: [1, 2, 3]))
        #expect(data == [0, 0, 0, 3, 1, 0, 0, 3, 1, 2, 3])
        let stream = syn + data + codec.encode(.ping(id: 7))
        for cut in 0...stream.count {
            var reader = SPDYCodec()
            let frames = try reader.push(Array(stream[..<cut])) + reader.push(Array(stream[cut...]))
            #expect(frames == [.synStream(id: 1, headers: []), .data(id: 3, fin: true, payload: [1, 2, 3]), .ping(id: 7)])
        }
    }
}

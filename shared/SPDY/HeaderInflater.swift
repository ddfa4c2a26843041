import CZlib

/// zlib inflate over a connection's header blocks: one stream for the whole connection (each block ends with a sync
/// flush), with the preset dictionary supplied when the stream asks for it. Not thread-safe: one reader owns it.
final class HeaderInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let dictionary: [UInt8]
    private var failed: String?

    init(dictionary: [UInt8]) {
        self.dictionary = dictionary
        // zlib keeps a pointer back to the z_stream: it must not move, hence its own allocation.
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        if inflateInit_(stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) != Z_OK {
            failed = "zlib inflateInit failed"
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// The bytes `compressed` inflates to, at most `limit` of them. Throws on a corrupt stream (the connection's
    /// later blocks cannot be read either) or a block larger than `limit`.
    func inflate(_ compressed: [UInt8], limit: Int) throws(SPDYError) -> [UInt8] {
        if let failed { throw SPDYError(failed) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var input = compressed
        var status: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { inputBuffer in
            stream.pointee.next_in = inputBuffer.baseAddress
            stream.pointee.avail_in = UInt32(inputBuffer.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { out in
                    stream.pointee.next_out = out.baseAddress
                    stream.pointee.avail_out = UInt32(out.count)
                    status = CZlib.inflate(stream, Z_SYNC_FLUSH)
                    if status == Z_NEED_DICT {
                        status = dictionary.withUnsafeBufferPointer {
                            inflateSetDictionary(stream, $0.baseAddress, UInt32($0.count))
                        }
                    }
                    output += out[0..<(out.count - Int(stream.pointee.avail_out))]
                }
            } while status == Z_OK && output.count <= limit && (stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0)
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        // Z_BUF_ERROR: every byte was used and nothing more could be made, the normal end of a flushed block.
        guard status == Z_OK || status == Z_BUF_ERROR || status == Z_STREAM_END else {
            let reason = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
            failed = "SPDY header block does not inflate: \(reason)"
            throw SPDYError(failed!)
        }
        guard output.count <= limit else {
            failed = "SPDY header block larger than \(limit) bytes"
            throw SPDYError(failed!)
        }
        return output
    }
}

// Writes `metadata.resourceVersion` into an object's JSON bytes by a byte-level splice: everything else in the
// document (member order, number literals, whitespace) is kept as it was.

import EdgeProtocol

enum ResourceVersionJSON {
    /// Returns `object` with `metadata.resourceVersion` set to `"<rv>"`. Replaces the last `resourceVersion`
    /// member of the last `metadata` member (the ones a Go decoder would use); adds either when missing.
    /// Throws `StoreError.invalidObject` when `object` is not a JSON object or `metadata` is not an object.
    static func setting(_ rv: Int64, in object: [UInt8]) throws(StoreError) -> [UInt8] {
        let top: [(key: String, valueRange: Range<Int>)]
        do {
            top = try JSONScanner.objectMembers(object)
        } catch {
            throw StoreError.invalidObject("not a JSON object: \(error)")
        }
        let rvMember = Array("\"resourceVersion\":\"\(rv)\"".utf8)
        guard let metadata = top.last(where: { $0.key == "metadata" }) else {
            // Add "metadata":{...} as the last member of the top-level object.
            let close = lastByte(ofValueIn: object, range: 0..<object.count, equalTo: UInt8(ascii: "}"))
            var out = Array(object[..<close])
            if !top.isEmpty { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: Array("\"metadata\":{".utf8))
            out.append(contentsOf: rvMember)
            out.append(UInt8(ascii: "}"))
            out.append(contentsOf: object[close...])
            return out
        }
        let metaRange = metadata.valueRange
        guard object[metaRange.lowerBound] == UInt8(ascii: "{") else {
            throw StoreError.invalidObject("metadata is not a JSON object")
        }
        // Validated already by the outer scan, so this cannot fail.
        let members = (try? JSONScanner.objectMembers(object[metaRange])) ?? []
        if let existing = members.last(where: { $0.key == "resourceVersion" }) {
            let range = (existing.valueRange.lowerBound + metaRange.lowerBound)..<(existing.valueRange.upperBound
                + metaRange.lowerBound)
            var out = object
            out.replaceSubrange(range, with: Array("\"\(rv)\"".utf8))
            return out
        }
        let close = metaRange.upperBound - 1  // the value range ends right after its '}'
        var out = Array(object[..<close])
        if !members.isEmpty { out.append(UInt8(ascii: ",")) }
        out.append(contentsOf: rvMember)
        out.append(contentsOf: object[close...])
        return out
    }

    /// The index of the last `byte` inside `range` (the closing brace of the top-level value, which may be
    /// followed by whitespace).
    private static func lastByte(ofValueIn bytes: [UInt8], range: Range<Int>, equalTo byte: UInt8) -> Int {
        var index = range.upperBound - 1
        while index > range.lowerBound, bytes[index] != byte { index -= 1 }
        return index
    }
}

/// MQTT topic names and filters (MQTT 3.1.1 §4.7).
public enum MQTTTopic {
    /// Whether `topic` matches `filter`, with `+` (one level) and `#` (this level and all below) wildcards.
    /// Topics starting with `$` are not matched by a filter starting with a wildcard.
    public static func matches(filter: String, topic: String) -> Bool {
        if topic.hasPrefix("$") && (filter.hasPrefix("+") || filter.hasPrefix("#")) { return false }
        var filterLevels = filter.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)[...]
        var topicLevels = topic.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)[...]
        while let level = filterLevels.first {
            if level.elementsEqual("#".utf8) { return true }
            guard let current = topicLevels.first else {
                return false
            }
            if !level.elementsEqual("+".utf8) && !level.elementsEqual(current) { return false }
            filterLevels = filterLevels.dropFirst()
            topicLevels = topicLevels.dropFirst()
        }
        return topicLevels.isEmpty
    }

    /// A topic a message may be published to: non-empty, no wildcards, no NUL, at most 65535 bytes.
    public static func isValidTopic(_ topic: String) -> Bool {
        !topic.isEmpty && topic.utf8.count <= 65535
            && !topic.utf8.contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") || $0 == 0 }
    }

    /// A subscription filter: `#` only as the whole last level, `+` only as a whole level.
    public static func isValidFilter(_ filter: String) -> Bool {
        guard !filter.isEmpty, filter.utf8.count <= 65535, !filter.utf8.contains(0) else { return false }
        let levels = filter.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for (index, level) in levels.enumerated() {
            let hasHash = level.contains(UInt8(ascii: "#"))
            let hasPlus = level.contains(UInt8(ascii: "+"))
            if hasHash && (level.count != 1 || index != levels.count - 1) { return false }
            if hasPlus && level.count != 1 { return false }
        }
        return true
    }
}

@testable import EdgedService
import EdgeProtocol
import Testing

/// kubelet's event aggregation and spam filter, without a cluster.
@Suite("pod event recorder")
struct EventRecorderTests {
    static let pod: JSONValue = .object([("metadata", .object([
        ("name", "web"), ("namespace", "shop"), ("uid", "u-1"), ("resourceVersion", "7"),
    ]))])

    @Test("a repeat raises the count of the same Event; a different message is a new Event")
    func aggregation() throws {
        var recorder = EventRecorder(node: "edge-1")
        let recordedFirst = recorder.record(pod: Self.pod, container: "main", warning: true, reason: "Unhealthy",
                                            message: "Liveness probe failed: boom", now: 100, stamp: "t1")
        let first = try #require(recordedFirst)
        #expect(first.operation == "insert" && first.namespace == "shop" && first.name.hasPrefix("web."))
        #expect(first.event["involvedObject"]?["fieldPath"]?.stringValue == "spec.containers{main}")
        #expect(first.event["type"]?.stringValue == "Warning" && first.event["count"]?.int64Value == 1)
        #expect(first.event["source"]?["host"]?.stringValue == "edge-1")
        let recordedAgain = recorder.record(pod: Self.pod, container: "main", warning: true, reason: "Unhealthy",
                                            message: "Liveness probe failed: boom", now: 101, stamp: "t2")
        let again = try #require(recordedAgain)
        #expect(again.operation == "update" && again.name == first.name)
        #expect(again.event["count"]?.int64Value == 2)
        #expect(again.event["firstTimestamp"]?.stringValue == "t1" && again.event["lastTimestamp"]?.stringValue == "t2")
        let recordedOther = recorder.record(pod: Self.pod, container: "main", reason: "Started",
                                            message: "Started container main", now: 102, stamp: "t3")
        let other = try #require(recordedOther)
        #expect(other.operation == "insert" && other.name != first.name)
    }

    @Test("an object gets a burst of 25, then one every 5 minutes")
    func spamFilter() {
        var recorder = EventRecorder(node: "edge-1")
        let sent = (0..<40).compactMap { index in
            recorder.record(pod: Self.pod, reason: "BackOff", message: "try \(index)", now: 1000, stamp: "t")
        }
        #expect(sent.count == 25)
        #expect(recorder.dropped == 15)
        #expect(recorder.record(pod: Self.pod, reason: "BackOff", message: "later", now: 1000 + 299, stamp: "t") == nil)
        #expect(recorder.record(pod: Self.pod, reason: "BackOff", message: "later", now: 1000 + 301, stamp: "t") != nil)
    }
}

/// kubelet's image garbage collection choice, without a runtime.
@Suite("image garbage collection policy")
struct ImageGCPolicyTests {
    static func image(_ id: String, size: UInt64 = 100, inUse: Bool = false, pinned: Bool = false, seen: Double = 0,
                      used: Double = 0) -> ImageGCPolicy.Image {
        .init(id: id, size: size, inUse: inUse, pinned: pinned, firstSeen: seen, lastUsed: used)
    }

    @Test("nothing under the high threshold; over it, least recently used unused images until down to low")
    func choose() {
        let policy = ImageGCPolicy(high: 80, low: 40, minimumAge: 60)
        let images = [Self.image("a", used: 50), Self.image("b", used: 10), Self.image("c", inUse: true),
                      Self.image("d", pinned: true), Self.image("e", seen: 990), Self.image("f", used: 30)]
        #expect(policy.choose(images, capacity: 1000, available: 300, now: 1000).remove.isEmpty)  // 70 % used
        // 85 % used: 450 bytes to free to get to 40 %; b, f, a (least recently used first), not c (in use), d
        // (pinned), e (younger than a minute).
        let choice = policy.choose(images, capacity: 1000, available: 150, now: 1000)
        #expect(choice.remove == ["b", "f", "a"])
        #expect(choice.wanted == 450 && choice.freed == 300)
        let enough = policy.choose(images, capacity: 1000, available: 450, now: 1000)
        #expect(enough.remove.isEmpty)  // 55 % used: under the high threshold
    }
}

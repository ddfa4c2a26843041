import Link
import Testing
import TestSupport

/// The link's delivery window without sockets: a simulated lossy network between a sender driving `DeliveryWindow`
/// and a receiver that drops duplicates by id and acknowledges.
@Suite("Delivery window")
struct DeliveryWindowTests {
    typealias Item = DeliveryWindow.Item

    /// One run: `count` messages over `keys` objects, with the given odds of losing a frame, duplicating it, and
    /// reconnecting. Returns the first-delivery order per key and the dead letters.
    struct Run {
        var delivered: [String: [Int64]] = [:]
        var deadLetters: [Item] = []
        var steps = 0
    }

    static func simulate(seed: UInt64, count: Int, keys: Int, loss: Double, duplicate: Double, reconnect: Double,
                         maxSends: Int = 1000, window: Int = 8) -> Run {
        var rng = SplitMix64(seed: seed)
        let clockStart = ContinuousClock.now
        var now = clockStart
        var sender = DeliveryWindow(policy: .init(window: window, resendAfter: .milliseconds(100),
                                                  maxResendInterval: .milliseconds(400), maxSends: maxSends,
                                                  maxDeferred: 16))
        // The durable queue: removed on acknowledgement or dead letter.
        var queue: [Item] = (1...count).map { n in
            Item(seq: Int64(n), msgID: "m\(n)", key: "k\(Int.random(in: 0..<keys, using: &rng))", waitsForAck: true)
        }
        var seen = Set<String>()
        var run = Run()
        var wire: [Item] = []        // frames toward the receiver
        var acks: [String] = []      // acknowledgements toward the sender

        func perform(_ actions: [DeliveryWindow.Action]) {
            for action in actions {
                switch action {
                case .send(let item), .resend(let item):
                    if Double.random(in: 0..<1, using: &rng) < loss { continue }
                    wire.append(item)
                    if Double.random(in: 0..<1, using: &rng) < duplicate { wire.append(item) }
                case .deadLetter(let item, _):
                    run.deadLetters.append(item)
                    queue.removeAll { $0.msgID == item.msgID }
                }
            }
        }

        while !queue.isEmpty && run.steps < 200_000 {
            run.steps += 1
            now += .milliseconds(Int.random(in: 1...30, using: &rng))
            if Double.random(in: 0..<1, using: &rng) < reconnect {
                sender.reconnect()
                wire.removeAll()
                acks.removeAll()
            }
            // The runner reads the queue after the cursor while the window wants more.
            if sender.wantsMore {
                perform(sender.offer(queue.filter { $0.seq > sender.cursor }.prefix(5).map { $0 }, now: now))
            }
            // The network delivers some frames, possibly out of order between objects.
            wire.shuffle(using: &rng)
            let arriving = wire.prefix(Int.random(in: 0...3, using: &rng))
            wire.removeFirst(arriving.count)
            for item in arriving {
                if seen.insert(item.msgID).inserted { run.delivered[item.key, default: []].append(item.seq) }
                if Double.random(in: 0..<1, using: &rng) >= loss { acks.append(item.msgID) }
            }
            acks.shuffle(using: &rng)
            let acked = acks.prefix(Int.random(in: 0...3, using: &rng))
            acks.removeFirst(acked.count)
            for id in acked {
                let (known, released) = sender.acknowledge(id, now: now)
                if known { queue.removeAll { $0.msgID == id } }
                perform(released)
            }
            perform(sender.tick(now: now))
        }
        return run
    }

    @Test("every message is delivered exactly once after de-duplication, in order per object, over a lossy network",
          arguments: Array(UInt64(1)...UInt64(40)))
    func lossyNetwork(seed: UInt64) {
        let count = 300
        let run = Self.simulate(seed: seed, count: count, keys: 7, loss: 0.2, duplicate: 0.1, reconnect: 0.01)
        #expect(run.deadLetters.isEmpty, "seed \(seed)")
        let all = run.delivered.values.flatMap { $0 }
        #expect(all.count == count, "seed \(seed): \(all.count) of \(count) delivered")
        #expect(Set(all).count == count, "seed \(seed): delivered twice")
        for (key, order) in run.delivered {
            // A message is first delivered only after its object's earlier ones were acknowledged: strictly ascending.
            #expect(order == order.sorted(), "seed \(seed): \(key) out of order \(order)")
        }
    }

    @Test("an object that is never acknowledged is dead-lettered after its sends; every other object flows past it")
    func stuckObject() {
        var window = DeliveryWindow(policy: .init(window: 4, resendAfter: .milliseconds(500),
                                                  maxResendInterval: .milliseconds(500), maxSends: 3))
        var now = ContinuousClock.now
        let poison = Item(seq: 1, msgID: "poison", key: "default/configmap/a", waitsForAck: true)
        let sameObject = Item(seq: 2, msgID: "later-a", key: "default/configmap/a", waitsForAck: true)
        let others = (3...40).map { Item(seq: Int64($0), msgID: "m\($0)", key: "default/pod/p\($0)", waitsForAck: true) }
        var sent: [String] = []
        var dead: [(Item, String)] = []
        func record(_ actions: [DeliveryWindow.Action]) {
            for action in actions {
                switch action {
                case .send(let item): sent.append(item.msgID)
                case .resend(let item): sent.append(item.msgID + "(again)")
                case .deadLetter(let item, let reason): dead.append((item, reason))
                }
            }
        }
        var queue = [poison, sameObject] + others
        // The other objects are acknowledged as they arrive; the poison message never is.
        for _ in 0..<1000 {
            if window.wantsMore { record(window.offer(queue.filter { $0.seq > window.cursor }, now: now)) }
            for id in sent where id != "poison" && !id.hasSuffix("(again)") && queue.contains(where: { $0.msgID == id }) {
                let (known, released) = window.acknowledge(id, now: now)
                if known { queue.removeAll { $0.msgID == id } }
                record(released)
            }
            now += .milliseconds(5)
            record(window.tick(now: now))
            for (item, _) in dead { queue.removeAll { $0.msgID == item.msgID } }
        }
        #expect(others.allSatisfy { sent.contains($0.msgID) }, "every other object was sent")
        #expect(sent.firstIndex(of: "m40")! < sent.firstIndex(of: "later-a")!,
                "later objects did not wait for the stuck one")
        #expect(dead.map(\.0.msgID) == ["poison"])
        #expect(dead.first?.1 == "not acknowledged after 3 sends")
        #expect(sent.filter { $0.hasPrefix("poison") }.count == 3)
        #expect(sent.contains("later-a"), "the stuck object's next message goes once it is dead-lettered")
        #expect(queue.isEmpty)
    }

    @Test("a refusal dead-letters at once and releases the object's next message; unknown ids change nothing")
    func rejection() {
        var window = DeliveryWindow(policy: .init(window: 8))
        let now = ContinuousClock.now
        let a1 = Item(seq: 1, msgID: "a1", key: "a", waitsForAck: true)
        let a2 = Item(seq: 2, msgID: "a2", key: "a", waitsForAck: true)
        let b1 = Item(seq: 3, msgID: "b1", key: "b", waitsForAck: true)
        #expect(window.offer([a1, a2, b1], now: now) == [.send(a1), .send(b1)])
        #expect(window.deferredCount == 1)
        #expect(window.reject("nope", reason: "x", now: now) == [])
        #expect(window.reject("a1", reason: "refused by the edge: no module", now: now)
            == [.deadLetter(a1, reason: "refused by the edge: no module"), .send(a2)])
        #expect(window.acknowledge("a1", now: now).known == false)
        #expect(window.acknowledge("b1", now: now).known)
        #expect(window.inflightCount == 1)
    }

    @Test("messages that wait for no acknowledgement are written once and hold nothing back")
    func noAckMessages() {
        var window = DeliveryWindow(policy: .init(window: 2))
        let now = ContinuousClock.now
        let items = (1...10).map { Item(seq: Int64($0), msgID: "m\($0)", key: "same", waitsForAck: false) }
        #expect(window.offer(items, now: now) == items.map { .send($0) })
        #expect(window.inflightCount == 0)
        #expect(window.cursor == 10)
        #expect(window.tick(now: now + .seconds(600)) == [])
    }

    @Test("re-sends back off: 100 ms, then doubling up to the cap")
    func backoff() {
        var window = DeliveryWindow(policy: .init(window: 1, resendAfter: .milliseconds(100),
                                                  maxResendInterval: .milliseconds(300), maxSends: 10))
        let start = ContinuousClock.now
        let item = Item(seq: 1, msgID: "m", key: "k", waitsForAck: true)
        _ = window.offer([item], now: start)
        var resends: [Int] = []
        for ms in stride(from: 0, through: 1500, by: 10) {
            if !window.tick(now: start + .milliseconds(ms)).isEmpty { resends.append(ms) }
        }
        // 100 after the first send, then 200 later, then every 300.
        #expect(resends.prefix(4) == [100, 300, 600, 900])
    }

    @Test("a full window or deferred list stops reading; the cursor stays before what was not taken")
    func bounds() {
        var window = DeliveryWindow(policy: .init(window: 2, maxDeferred: 1))
        let now = ContinuousClock.now
        let items = [("a", 1), ("a", 2), ("a", 3), ("b", 4)].map {
            Item(seq: Int64($0.1), msgID: "m\($0.1)", key: $0.0, waitsForAck: true)
        }
        #expect(window.offer(items, now: now) == [.send(items[0])])
        #expect(window.cursor == 2)  // m2 deferred, m3 not taken: the deferred list is full
        #expect(!window.wantsMore)
        let (_, released) = window.acknowledge("m1", now: now)
        #expect(released == [.send(items[1])])
        #expect(window.offer(Array(items[2...]), now: now) == [.send(items[3])])
        #expect(window.cursor == 4)
    }
}

import Bus
import EdgeProtocol
import Logging
import Store
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Ordered, persistent queues of messages in one SQLite file: cloudhub's per-node outboxes and hub's upstream queue.
/// A message is written (committed) before it is sent, and removed only when the peer has acknowledged it, so it
/// survives a restart of either process. Appending a `msg_id` that is already queued is a no-op (duplicates from a
/// producer's retry are dropped here).
public final class DurableQueue: Sendable {
    public struct Entry: Sendable, Equatable {
        public let seq: Int64
        public let msgID: String
        /// Messages with the same key are delivered in order, one at a time (the object's resource).
        public let key: String
        /// ACK-class: removed on the peer's application ACK; otherwise on the transport acknowledgement.
        public let needsAck: Bool
        public let payload: [UInt8]
    }

    public struct Full: Error, CustomStringConvertible, Sendable {
        public let queue: String
        public let limit: Int
        public var description: String { "queue '\(queue)' is full (\(limit) messages waiting)" }
    }

    /// Per-queue bound; appending past it throws `Full`.
    public let limit: Int
    private struct State {
        let db: SQLiteDatabase
        /// Entries per queue, kept here so that the bound check does not count rows on every append.
        var counts: [String: Int]
        var deadCounts: [String: Int]
    }

    // SQLiteDatabase is not thread-safe; every use goes through this lock.
    private let state: Mutex<State>

    public init(path: String, limit: Int) throws {
        self.limit = limit
        // NORMAL with WAL: a commit survives the process being killed (the case that matters here); only an OS crash
        // or power loss can take the last commits.
        let db = try SQLiteDatabase(path: path, options: SQLiteOptions(synchronous: .normal))
        try db.execute("""
            CREATE TABLE IF NOT EXISTS queue(
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL,
                msg_id TEXT NOT NULL,
                key TEXT NOT NULL,
                needs_ack INTEGER NOT NULL,
                payload BLOB NOT NULL);
            CREATE UNIQUE INDEX IF NOT EXISTS queue_name_msg ON queue(name, msg_id);
            CREATE INDEX IF NOT EXISTS queue_name_seq ON queue(name, seq);
            CREATE TABLE IF NOT EXISTS dead_letter(
                seq INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                msg_id TEXT NOT NULL,
                key TEXT NOT NULL,
                reason TEXT NOT NULL,
                at_ms INTEGER NOT NULL,
                payload BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS dead_letter_name ON dead_letter(name, seq);
            """)
        let rows = try db.query("SELECT name, count(*) FROM queue GROUP BY name") { row in
            (row.string(0) ?? "", Int(row.int64(1)))
        }
        let dead = try db.query("SELECT name, count(*) FROM dead_letter GROUP BY name") { row in
            (row.string(0) ?? "", Int(row.int64(1)))
        }
        state = Mutex(State(db: db, counts: Dictionary(rows, uniquingKeysWith: +),
                            deadCounts: Dictionary(dead, uniquingKeysWith: +)))
    }

    /// Appends a message; returns false when that `msg_id` was already queued.
    @discardableResult
    public func append(_ name: String, msgID: String, key: String, needsAck: Bool, payload: [UInt8]) throws -> Bool {
        try state.withLock { s in
            if s.counts[name, default: 0] >= limit { throw Full(queue: name, limit: limit) }
            let added = try s.db.run(
                "INSERT OR IGNORE INTO queue(name, msg_id, key, needs_ack, payload) VALUES (?, ?, ?, ?, ?)",
                .text(name), .text(msgID), .text(key), .integer(needsAck ? 1 : 0), .blob(payload)) == 1
            if added { s.counts[name, default: 0] += 1 }
            return added
        }
    }

    /// For a bus intake (on the bus's network thread): appends, and while that fails (the queue is full, or the disk
    /// refuses) waits and tries again. The broker meanwhile holds further messages for our session, so nothing is
    /// dropped; the first failure is logged. Returns whether the message was new.
    @discardableResult
    public func appendWaiting(
        _ name: String, msgID: String, key: String, needsAck: Bool, payload: [UInt8], logger: Logger
    ) -> Bool {
        var reported = false
        while true {
            do {
                return try append(name, msgID: msgID, key: key, needsAck: needsAck, payload: payload)
            } catch {
                if !reported {
                    logger.warning("cannot queue a message; holding the broker back until it can",
                                   metadata: ["queue": "\(name)", "reason": "\(error)"])
                    reported = true
                }
                usleep(100_000)
            }
        }
    }

    /// Up to `limit` entries of a queue after `seq`, in order.
    public func entries(_ name: String, after seq: Int64 = 0, limit: Int = 256) throws -> [Entry] {
        try state.withLock { s in
            try s.db.query(
                "SELECT seq, msg_id, key, needs_ack, payload FROM queue WHERE name = ? AND seq > ? ORDER BY seq LIMIT ?",
                [.text(name), .integer(seq), .integer(Int64(limit))]
            ) { row in
                Entry(seq: row.int64(0), msgID: row.string(1) ?? "", key: row.string(2) ?? "",
                      needsAck: row.int64(3) != 0, payload: row.blob(4))
            }
        }
    }

    /// Removes a message by id; returns whether it was there.
    @discardableResult
    public func remove(_ name: String, msgID: String) throws -> Bool {
        try state.withLock { s in
            let removed = try s.db.run("DELETE FROM queue WHERE name = ? AND msg_id = ?", .text(name), .text(msgID)) == 1
            if removed { s.counts[name, default: 1] -= 1 }
            return removed
        }
    }

    /// One queued entry by id (its payload, to send it again).
    public func entry(_ name: String, msgID: String) throws -> Entry? {
        try state.withLock { s in
            try s.db.query(
                "SELECT seq, msg_id, key, needs_ack, payload FROM queue WHERE name = ? AND msg_id = ?",
                [.text(name), .text(msgID)]
            ) { row in
                Entry(seq: row.int64(0), msgID: row.string(1) ?? "", key: row.string(2) ?? "",
                      needsAck: row.int64(3) != 0, payload: row.blob(4))
            }.first
        }
    }

    /// A message given up on, kept with the reason: it no longer holds back its object's later messages.
    public struct DeadLetter: Sendable, Equatable {
        public let seq: Int64
        public let msgID: String
        public let key: String
        public let reason: String
        /// Milliseconds since 1970 when it was moved aside.
        public let atMillis: Int64
        public let payload: [UInt8]
    }

    /// Moves a queued message into the dead-letter record (in one transaction); returns whether it was queued.
    @discardableResult
    public func deadLetter(_ name: String, msgID: String, reason: String, atMillis: Int64) throws -> Bool {
        try state.withLock { s in
            let moved = try s.db.transaction { db -> Bool in
                let copied = try db.run(
                    "INSERT INTO dead_letter(seq, name, msg_id, key, reason, at_ms, payload) "
                        + "SELECT seq, name, msg_id, key, ?, ?, payload FROM queue WHERE name = ? AND msg_id = ?",
                    .text(reason), .integer(atMillis), .text(name), .text(msgID)) == 1
                guard copied else { return false }
                _ = try db.run("DELETE FROM queue WHERE name = ? AND msg_id = ?", .text(name), .text(msgID))
                return true
            }
            if moved {
                s.counts[name, default: 1] -= 1
                s.deadCounts[name, default: 0] += 1
            }
            return moved
        }
    }

    /// The dead letters of a queue, oldest first.
    public func deadLetters(_ name: String, limit: Int = 1000) throws -> [DeadLetter] {
        try state.withLock { s in
            try s.db.query(
                "SELECT seq, msg_id, key, reason, at_ms, payload FROM dead_letter WHERE name = ? ORDER BY seq LIMIT ?",
                [.text(name), .integer(Int64(limit))]
            ) { row in
                DeadLetter(seq: row.int64(0), msgID: row.string(1) ?? "", key: row.string(2) ?? "",
                           reason: row.string(3) ?? "", atMillis: row.int64(4), payload: row.blob(5))
            }
        }
    }

    /// Dead letters per queue name (this process's view).
    public func deadLetterCounts() -> [String: Int] {
        state.withLock { $0.deadCounts.filter { $0.value > 0 } }
    }

    /// Entries of a queue. Counts the rows, so that it also sees other processes' changes (tests, tools).
    public func count(_ name: String) throws -> Int {
        try state.withLock { s in
            Int(try s.db.scalarInt64("SELECT count(*) FROM queue WHERE name = ?", .text(name)) ?? 0)
        }
    }

    /// Queue names with their backlog (this process's view).
    public func backlog() -> [String: Int] {
        state.withLock { $0.counts.filter { $0.value > 0 } }
    }
}

extension DurableQueue {
    /// The backlog as published: `{"<queue>": n, …}`, then `"deadLetters": {"<queue>": n}` once any message was moved
    /// aside (a key no queue has: node names are lower case), then the caller's own non-zero counters.
    public func backlogJSON(extra: [String: Int] = [:]) -> JSONValue {
        var members = backlog().sorted { $0.key < $1.key }.map { ($0.key, JSONValue.integer($0.value)) }
        let dead = deadLetterCounts()
        if !dead.isEmpty {
            members.append(("deadLetters",
                            .object(dead.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.integer($0.value)) })))
        }
        for (key, value) in extra.sorted(by: { $0.key < $1.key }) where value > 0 {
            members.append((key, .integer(value)))
        }
        return .object(members)
    }

    /// Publishes `backlogJSON()` retained on `topic` whenever it changed, checking every `interval`, until cancelled.
    /// Both ends of the link make their queues visible this way.
    public func publishBacklog(on bus: BusClient, topic: String, every interval: Duration,
                               extra: @escaping @Sendable () -> [String: Int] = { [:] }) async throws {
        var last: JSONValue?
        while true {
            let now = backlogJSON(extra: extra())
            if now != last {
                try await bus.publish(topic, try now.serialized(), retain: true)
                last = now
            }
            try await Task.sleep(for: interval)
        }
    }
}

// The API server's event-sourced object store on one SQLite database. No Foundation.
//
// - `events` is an append-only log: every create/update/delete appends one row. Its `rv` (INTEGER PRIMARY KEY
//   AUTOINCREMENT) is the global resourceVersion; AUTOINCREMENT guarantees an rv is never reused, even after the
//   newest events were compacted away.
// - `objects` is the current state derived from the log: one row per live key with its rv and JSON.
// - `meta` holds `compacted`: events with rv <= compacted may have been deleted, so a watch from an older rv is
//   answered with `StoreError.gone` (HTTP 410).
//
// Every write is one `BEGIN IMMEDIATE` transaction that appends the event and updates `objects`, so a crash (even
// SIGKILL mid-write) leaves either both or neither. The rv of a write is `sqlite_sequence.seq + 1`, read inside
// that transaction (which holds the write lock, so no other writer can take the same number); the store then
// writes it into the JSON (`metadata.resourceVersion`) and inserts the event with that explicit rv.
//
// Concurrency: one connection, kept in a `Mutex`; every operation holds it for its whole transaction, and
// writers notify the `WatchHub` while still holding it, so watchers learn of commits in rv order. Operations are
// synchronous and short (one small transaction; with synchronous=FULL one fsync per write).
// Only this process may write the database: watchers learn of new events from this store's own writes.

import Store
import Synchronization

/// Automatic compaction after writes.
public struct CompactionPolicy: Sendable, Hashable {
    /// How many of the newest events to keep.
    public var keepLast: Int
    /// Compact after this many writes since the last compaction.
    public var every: Int

    public init(keepLast: Int, every: Int) {
        self.keepLast = keepLast
        self.every = max(1, every)
    }
}

public struct ObjectStoreOptions: Sendable {
    public var sqlite: SQLiteOptions
    /// nil: compaction only when `compact(...)` is called.
    public var autoCompaction: CompactionPolicy?
    /// Events read from the log per batch when replaying to a watcher.
    public var watchBatchSize: Int

    public init(
        sqlite: SQLiteOptions = SQLiteOptions(),
        autoCompaction: CompactionPolicy? = CompactionPolicy(keepLast: 10_000, every: 1_000),
        watchBatchSize: Int = 256
    ) {
        self.sqlite = sqlite
        self.autoCompaction = autoCompaction
        self.watchBatchSize = max(1, watchBatchSize)
    }
}

/// The event-sourced object store. Thread-safe (`Sendable`): the connection lives in a `Mutex`.
public final class ObjectStore: Sendable {
    private final class Engine {
        let db: SQLiteDatabase
        var writesSinceCompaction = 0

        init(db: SQLiteDatabase) { self.db = db }
    }

    private let engine: Mutex<Engine>
    public let options: ObjectStoreOptions
    let hub: WatchHub

    /// Opens (creating when needed) the store at `path`.
    public init(path: String, options: ObjectStoreOptions = ObjectStoreOptions()) throws {
        let db = try SQLiteDatabase(path: path, options: options.sqlite)
        try ObjectStore.migrate(db)
        let revision = try ObjectStore.currentRevision(db)
        self.options = options
        self.hub = WatchHub(revision: revision)
        self.engine = Mutex(Engine(db: db))
    }

    /// Closes the connection; later calls throw SQLITE_MISUSE.
    public func close() {
        engine.withLock { $0.db.close() }
    }

    static let schemaVersion: Int64 = 1

    private static func migrate(_ db: SQLiteDatabase) throws {
        try db.transaction { db in
            let version = try db.scalarInt64("PRAGMA user_version") ?? 0
            guard version < schemaVersion else { return }
            try db.execute("""
                CREATE TABLE IF NOT EXISTS events(
                    rv INTEGER PRIMARY KEY AUTOINCREMENT,
                    type TEXT NOT NULL CHECK (type IN ('ADDED', 'MODIFIED', 'DELETED')),
                    resource TEXT NOT NULL,
                    namespace TEXT NOT NULL,
                    name TEXT NOT NULL,
                    object BLOB NOT NULL);
                CREATE INDEX IF NOT EXISTS events_by_resource ON events(resource, rv);
                CREATE TABLE IF NOT EXISTS objects(
                    resource TEXT NOT NULL,
                    namespace TEXT NOT NULL,
                    name TEXT NOT NULL,
                    rv INTEGER NOT NULL,
                    object BLOB NOT NULL,
                    PRIMARY KEY (resource, namespace, name)) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
                INSERT OR IGNORE INTO meta(key, value) VALUES ('compacted', 0);
                PRAGMA user_version = \(schemaVersion);
                """)
        }
    }

    // MARK: Revisions

    private static func currentRevision(_ db: SQLiteDatabase) throws(SQLiteError) -> Int64 {
        try db.scalarInt64("SELECT seq FROM sqlite_sequence WHERE name = 'events'") ?? 0
    }

    private static func compactedRevision(_ db: SQLiteDatabase) throws(SQLiteError) -> Int64 {
        try db.scalarInt64("SELECT value FROM meta WHERE key = 'compacted'") ?? 0
    }

    /// The rv of the newest event (0 for an empty store).
    public var currentRevision: Int64 {
        get throws { try engine.withLock { engine throws in try ObjectStore.currentRevision(engine.db) } }
    }

    /// Events with rv <= this may have been compacted away; a watch must start at or after it.
    public var compactedRevision: Int64 {
        get throws { try engine.withLock { engine throws in try ObjectStore.compactedRevision(engine.db) } }
    }

    // MARK: Reads

    /// The current object at `key`, or nil.
    public func get(_ key: ObjectKey) throws -> StoredObject? {
        try engine.withLock { engine throws in try ObjectStore.get(key, engine.db) }
    }

    private static func get(_ key: ObjectKey, _ db: SQLiteDatabase) throws(SQLiteError) -> StoredObject? {
        let statement = try db.prepare(
            "SELECT rv, object FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3")
        try statement.bind([.text(key.resource), .text(key.namespace), .text(key.name)])
        guard try statement.step() else { return nil }
        return StoredObject(key: key, rv: statement.int64(0), object: statement.blob(1))
    }

    /// Every object of `resource` (in `namespace`, or in all namespaces when nil), ordered by namespace and name,
    /// and the revision of that snapshot (read in the same transaction).
    public func list(
        resource: String, namespace: String? = nil
    ) throws -> (items: [StoredObject], listRV: Int64) {
        try engine.withLock { engine throws in
            try engine.db.readTransaction { db in
                var sql = "SELECT namespace, name, rv, object FROM objects WHERE resource = ?1"
                var bindings: [SQLiteValue] = [.text(resource)]
                if let namespace {
                    sql += " AND namespace = ?2"
                    bindings.append(.text(namespace))
                }
                sql += " ORDER BY namespace, name"
                let items = try db.query(sql, bindings) { (row) throws(SQLiteError) in
                    StoredObject(
                        key: ObjectKey(resource: resource, namespace: row.string(0) ?? "", name: row.string(1) ?? ""),
                        rv: row.int64(2), object: row.blob(3))
                }
                return (items, try ObjectStore.currentRevision(db))
            }
        }
    }

    /// Up to `limit` events with rv > `rv`, oldest first, optionally only of `resource` (and `namespace`).
    /// Throws `StoreError.gone` when `rv` is older than the compacted revision.
    public func events(
        after rv: Int64, resource: String? = nil, namespace: String? = nil, limit: Int = 1000
    ) throws -> [Event] {
        try read(after: rv, resource: resource, namespace: namespace, limit: limit).events
    }

    /// Like ``events(after:resource:namespace:limit:)`` and also how far the log was scanned: every event with
    /// rv <= `scannedThrough` that matches the filter is in `events`.
    func read(
        after rv: Int64, resource: String?, namespace: String?, limit: Int
    ) throws -> (events: [Event], scannedThrough: Int64) {
        try engine.withLock { engine throws in
            try engine.db.readTransaction { db in
                let compacted = try ObjectStore.compactedRevision(db)
                if rv < compacted { throw StoreError.gone(oldest: compacted) }
                var sql = "SELECT rv, type, resource, namespace, name, object FROM events WHERE rv > ?1"
                var bindings: [SQLiteValue] = [.integer(rv), .integer(Int64(max(1, limit)))]
                if let resource {
                    sql += " AND resource = ?3"
                    bindings.append(.text(resource))
                    if let namespace {
                        sql += " AND namespace = ?4"
                        bindings.append(.text(namespace))
                    }
                }
                sql += " ORDER BY rv LIMIT ?2"
                let events = try db.query(sql, bindings) { (row) throws(SQLiteError) in
                    Event(
                        type: EventType(rawValue: row.string(1) ?? "") ?? .modified, rv: row.int64(0),
                        key: ObjectKey(
                            resource: row.string(2) ?? "", namespace: row.string(3) ?? "", name: row.string(4) ?? ""),
                        object: row.blob(5))
                }
                let scanned =
                    events.count >= max(1, limit) ? events[events.count - 1].rv : try ObjectStore.currentRevision(db)
                return (events, max(scanned, rv))
            }
        }
    }

    // MARK: Writes

    /// Creates `key`; returns its rv. Throws `.alreadyExists` when it exists.
    @discardableResult
    public func create(_ key: ObjectKey, object: [UInt8]) throws -> Int64 {
        try write { db in
            if try ObjectStore.get(key, db) != nil { throw StoreError.alreadyExists(key) }
            return try ObjectStore.append(.added, key: key, object: object, db)
        }.rv
    }

    /// Replaces `key`; returns the new rv. Throws `.notFound`, or `.conflict` when `expectedRV` is given and is not
    /// the current rv.
    @discardableResult
    public func update(_ key: ObjectKey, object: [UInt8], expectedRV: Int64? = nil) throws -> Int64 {
        try write { db in
            guard let current = try ObjectStore.get(key, db) else { throw StoreError.notFound(key) }
            if let expectedRV, expectedRV != current.rv { throw StoreError.conflict(key: key, current: current.rv) }
            return try ObjectStore.append(.modified, key: key, object: object, db)
        }.rv
    }

    /// Deletes `key`; returns the deletion's rv and the last object (its resourceVersion set to that rv).
    @discardableResult
    public func delete(_ key: ObjectKey, expectedRV: Int64? = nil) throws -> (rv: Int64, lastObject: [UInt8]) {
        try write { db in
            guard let current = try ObjectStore.get(key, db) else { throw StoreError.notFound(key) }
            if let expectedRV, expectedRV != current.rv { throw StoreError.conflict(key: key, current: current.rv) }
            return try ObjectStore.append(.deleted, key: key, object: current.object, db)
        }
    }

    /// Runs one write transaction, then (still under the lock, so in rv order) tells the hub, then auto-compacts.
    private func write(
        _ body: @Sendable (SQLiteDatabase) throws -> (rv: Int64, lastObject: [UInt8])
    ) throws -> (rv: Int64, lastObject: [UInt8]) {
        let policy = options.autoCompaction
        return try engine.withLock { engine throws in
            let result = try engine.db.transaction(body)
            hub.publish(revision: result.rv)
            engine.writesSinceCompaction += 1
            if let policy, engine.writesSinceCompaction >= policy.every {
                engine.writesSinceCompaction = 0
                // The write itself is committed; a failed compaction is retried after the next `every` writes.
                _ = try? ObjectStore.compact(keepingLast: policy.keepLast, engine.db)
            }
            return result
        }
    }

    /// Inside a write transaction: takes the next rv, stamps it into the JSON, appends the event and updates the
    /// current state.
    private static func append(
        _ type: EventType, key: ObjectKey, object: [UInt8], _ db: SQLiteDatabase
    ) throws -> (rv: Int64, lastObject: [UInt8]) {
        let rv = try currentRevision(db) + 1
        let stamped = try ResourceVersionJSON.setting(rv, in: object)
        let insert = try db.prepare(
            "INSERT INTO events(rv, type, resource, namespace, name, object) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        try insert.bind([
            .integer(rv), .text(type.rawValue), .text(key.resource), .text(key.namespace), .text(key.name),
            .blob(stamped),
        ])
        _ = try insert.step()
        let keyBindings: [SQLiteValue] = [.text(key.resource), .text(key.namespace), .text(key.name)]
        if type == .deleted {
            let statement = try db.prepare("DELETE FROM objects WHERE resource = ?1 AND namespace = ?2 AND name = ?3")
            try statement.bind(keyBindings)
            _ = try statement.step()
        } else {
            let statement = try db.prepare("""
                INSERT INTO objects(resource, namespace, name, rv, object) VALUES (?1, ?2, ?3, ?4, ?5)
                ON CONFLICT(resource, namespace, name) DO UPDATE SET rv = excluded.rv, object = excluded.object
                """)
            try statement.bind(keyBindings + [.integer(rv), .blob(stamped)])
            _ = try statement.step()
        }
        return (rv, stamped)
    }

    // MARK: Compaction

    /// Deletes all but the newest `n` events (the current state is never touched). Returns the new compacted
    /// revision.
    @discardableResult
    public func compact(keepingLast n: Int) throws -> Int64 {
        try engine.withLock { engine throws in try ObjectStore.compact(keepingLast: n, engine.db) }
    }

    /// Deletes the events with rv < `rv`. Returns the new compacted revision (never lowered).
    @discardableResult
    public func compact(before rv: Int64) throws -> Int64 {
        try engine.withLock { engine throws in try ObjectStore.compact(before: rv, engine.db) }
    }

    private static func compact(keepingLast n: Int, _ db: SQLiteDatabase) throws -> Int64 {
        try db.transaction { db in
            let current = try currentRevision(db)
            return try compactLocked(before: current - Int64(max(0, n)) + 1, db)
        }
    }

    private static func compact(before rv: Int64, _ db: SQLiteDatabase) throws -> Int64 {
        try db.transaction { db in try compactLocked(before: rv, db) }
    }

    private static func compactLocked(before rv: Int64, _ db: SQLiteDatabase) throws -> Int64 {
        let current = try currentRevision(db)
        let target = min(rv - 1, current)  // the highest rv removed
        let compacted = try compactedRevision(db)
        guard target > compacted else { return compacted }
        try db.run("DELETE FROM events WHERE rv <= ?1", .integer(target))
        try db.run("UPDATE meta SET value = ?1 WHERE key = 'compacted'", .integer(target))
        return target
    }

    // MARK: Watch

    /// A watch of `resource` (nil: every resource; `namespace` nil: every namespace) from `rv`: replays every
    /// logged event with rv > `rv`, then follows new writes, with no gap and no duplicate; emits a bookmark
    /// carrying the rv up to which everything was delivered after `bookmarkInterval` without any event (nil: no
    /// bookmarks). Throws `.gone` at once when `rv` is older than the compacted revision; the stream throws
    /// `.gone` later when compaction overtakes a slow reader.
    public func watch(
        resource: String?, namespace: String? = nil, after rv: Int64, bookmarkInterval: Duration? = nil
    ) throws -> WatchStream {
        let compacted = try compactedRevision
        if rv < compacted { throw StoreError.gone(oldest: compacted) }
        return WatchStream(
            store: self, resource: resource, namespace: namespace, after: rv, bookmarkInterval: bookmarkInterval)
    }
}

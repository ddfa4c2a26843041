import CSQLite
import Foundation
import Store
import Testing

#if canImport(APIServerStorage)
@testable import APIServerStorage
#else
@testable import APIServerService
#endif

@Suite struct CrashSafetyTests {
    @Test func walModeAndSettings() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        store.close()
        let db = try SQLiteDatabase(path: dir.dbPath)
        #expect(try db.scalarText("PRAGMA journal_mode") == "wal")
        #expect(try db.scalarInt64("PRAGMA synchronous") == 2)  // FULL
        #expect(try db.scalarInt64("PRAGMA foreign_keys") == 1)
        #expect(try db.scalarInt64("PRAGMA user_version") == ObjectStore.schemaVersion)
    }

    @Test func sqliteErrorsCarryCodeMessageAndSQL() throws {
        let db = try SQLiteDatabase(path: ":memory:", options: SQLiteOptions(walMode: false))
        do {
            try db.execute("SELEC 1")
            Issue.record("expected an error")
        } catch {
            #expect(error.primaryCode == SQLITE_ERROR)
            #expect(error.message.contains("syntax error"))
            #expect(error.sql == "SELEC 1")
        }
        try db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB, s TEXT)")
        let insert = try db.prepare("INSERT INTO t(id, b, s) VALUES (?1, ?2, ?3)")
        try insert.bind([.integer(1), .blob([0, 1, 255]), .text("héllo")])
        #expect(try insert.step() == false)
        insert.reset()
        try insert.bind([.integer(2), .blob([]), .null])
        _ = try insert.step()
        let rows = try db.query("SELECT id, b, s FROM t ORDER BY id") { row in
            (row.int64(0), row.blob(1), row.string(2))
        }
        #expect(rows.count == 2)
        #expect(rows[0].0 == 1 && rows[0].1 == [0, 1, 255] && rows[0].2 == "héllo")
        #expect(rows[1].1 == [] && rows[1].2 == nil)
        #expect(throws: SQLiteError.self) { try db.run("INSERT INTO t(id) VALUES (1)") }
        // transaction: rollback on throw, nested refused.
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.transaction { db in
                try db.run("INSERT INTO t(id) VALUES (3)")
                throw Boom()
            }
        }
        #expect(try db.scalarInt64("SELECT count(*) FROM t") == 2)
        #expect(!db.inTransaction)
        #expect(throws: SQLiteError.self) { try db.transaction { db in try db.transaction { _ in } } }
        #expect(!db.inTransaction)
    }

    /// A writer dies mid-transaction: half an update is written, the handle goes away without COMMIT.
    @Test func uncommittedWriteLeavesNoTrace() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let original: StoredObject
        do {
            let store = try openStore(dir)
            try store.create(podKey("a"), object: pod("a", spec: #"{"v":1}"#))
            original = try #require(try store.get(podKey("a")))
            store.close()
        }
        do {
            let db = try SQLiteDatabase(path: dir.dbPath)
            try db.execute("BEGIN IMMEDIATE")
            let half = Array(pod("a", spec: #"{"v":2}"#).prefix(20))
            try db.run(
                "INSERT INTO events(type, resource, namespace, name, object) VALUES ('MODIFIED','pods','default','a',?1)",
                .blob(half))
            try db.run("UPDATE objects SET object = ?1, rv = 2 WHERE name = 'a'", .blob(half))
            #expect(db.inTransaction)
            db.close()  // no COMMIT: as if the process died here
        }
        let store = try openStore(dir)
        #expect(try store.get(podKey("a")) == original)
        #expect(try store.currentRevision == 1)
        #expect(try store.events(after: 0).count == 1)
        #expect(try store.update(podKey("a"), object: pod("a"), expectedRV: 1) == 2)
    }

    /// The files as a SIGKILL would leave them: a big uncommitted transaction has spilled pages into the WAL
    /// (tiny page cache), and the db and -wal files are copied while it is still open. Opening the copy must show
    /// the last committed state only.
    @Test func diskImageTakenMidTransactionRecoversLastCommit() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        try store.create(podKey("a"), object: pod("a", spec: #"{"v":1}"#))
        let original = try #require(try store.get(podKey("a")))

        let db = try SQLiteDatabase(path: dir.dbPath)
        try db.execute("PRAGMA cache_size=1")
        let walPath = dir.dbPath + "-wal"
        let walBefore = (try? FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int) ?? 0
        try db.execute("BEGIN IMMEDIATE")
        let big = [UInt8](repeating: 0x41, count: 512 * 1024)
        for i in 0..<8 {
            try db.run(
                "INSERT INTO events(type, resource, namespace, name, object) VALUES ('ADDED','pods','default',?1,?2)",
                .text("big\(i)"), .blob(big))
        }
        try db.run("UPDATE objects SET object = ?1 WHERE name = 'a'", .blob(big))
        let walDuring = (try FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int) ?? 0
        #expect(walDuring > walBefore + 1_000_000, "uncommitted pages should have spilled into the WAL")

        let image = try TempDir()
        defer { image.cleanup() }
        try FileManager.default.copyItem(atPath: dir.dbPath, toPath: image.dbPath)
        try FileManager.default.copyItem(atPath: walPath, toPath: image.dbPath + "-wal")
        db.close()

        let recovered = try openStore(image)
        #expect(try recovered.get(podKey("a")) == original)
        #expect(try recovered.currentRevision == 1)
        #expect(try recovered.events(after: 0).map(\.rv) == [1])
        #expect(try SQLiteDatabase(path: image.dbPath).scalarText("PRAGMA integrity_check") == "ok")
    }
}

// A small Swift wrapper over the system libsqlite3. No Foundation.
//
// Thread-safety: a `SQLiteDatabase` (and every `SQLiteStatement` made from it) must be used by one thread at a
// time. The connection is opened with SQLITE_OPEN_NOMUTEX ("multi-thread" mode), so SQLite itself does not lock;
// callers serialise access, e.g. by keeping the database inside a `Mutex` (module Synchronization) or an actor.
// The types are deliberately not `Sendable`: strict concurrency then rejects sharing them without such a guard.

import CSQLite

/// An error reported by SQLite: its (extended) result code, the message of the connection and the SQL involved.
public struct SQLiteError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The extended result code, e.g. 2067 (SQLITE_CONSTRAINT_UNIQUE). `code & 0xFF` is the primary code.
    public let code: Int32
    public let message: String
    /// The statement that failed, or "" when none applies (e.g. open).
    public let sql: String

    public init(code: Int32, message: String, sql: String) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    /// The primary result code (SQLITE_BUSY, SQLITE_CONSTRAINT, ...).
    public var primaryCode: Int32 { code & 0xFF }

    public var description: String {
        sql.isEmpty ? "SQLite error \(code): \(message)" : "SQLite error \(code): \(message) (in: \(sql))"
    }
}

/// A value to bind to a statement parameter, or read back.
public enum SQLiteValue: Sendable, Hashable {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null
}

/// `PRAGMA synchronous` levels that are meaningful with WAL.
public enum SQLiteSynchronous: String, Sendable {
    /// Survives a crash of the process; the last commits may be lost on power failure / OS crash.
    case normal = "NORMAL"
    /// The WAL is fsynced at every commit: a committed transaction also survives power failure.
    case full = "FULL"
}

/// How to open a database.
public struct SQLiteOptions: Sendable {
    /// `sqlite3_open_v2` flags. Default: read-write, create, no internal mutex (see the thread-safety note).
    public var flags: Int32
    /// Use WAL journal mode (needs a file database).
    public var walMode: Bool
    public var synchronous: SQLiteSynchronous
    /// How long a connection waits on a lock held by another connection before SQLITE_BUSY.
    public var busyTimeoutMilliseconds: Int32
    public var foreignKeys: Bool

    public init(
        flags: Int32 = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
        walMode: Bool = true,
        synchronous: SQLiteSynchronous = .full,
        busyTimeoutMilliseconds: Int32 = 5000,
        foreignKeys: Bool = true
    ) {
        self.flags = flags
        self.walMode = walMode
        self.synchronous = synchronous
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.foreignKeys = foreignKeys
    }
}

/// One SQLite connection. Not thread-safe: see the note at the top of this file.
public final class SQLiteDatabase {
    /// The raw `sqlite3*`; nil once closed.
    public private(set) var handle: OpaquePointer?
    public let path: String

    /// Opens (or creates) the database at `path` and applies `options` (journal mode, synchronous, busy timeout,
    /// foreign keys).
    public init(path: String, options: SQLiteOptions = SQLiteOptions()) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, options.flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: message, sql: "")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, options.busyTimeoutMilliseconds)
        do throws(SQLiteError) {
            if options.walMode {
                let mode = try scalarText("PRAGMA journal_mode=WAL")
                guard mode?.lowercased() == "wal" else {
                    throw SQLiteError(code: SQLITE_ERROR, message: "WAL journal mode refused (got \(mode ?? "nil"))",
                                      sql: "PRAGMA journal_mode=WAL")
                }
            }
            try execute("PRAGMA synchronous=\(options.synchronous.rawValue)")
            try execute("PRAGMA foreign_keys=\(options.foreignKeys ? "ON" : "OFF")")
        } catch {
            close()
            throw error
        }
    }

    deinit {
        if let handle { sqlite3_close_v2(handle) }
    }

    /// Closes the connection. A transaction still open is rolled back by SQLite. Idempotent.
    public func close() {
        if let handle {
            sqlite3_close_v2(handle)
            self.handle = nil
        }
    }

    func liveHandle(_ sql: String) throws(SQLiteError) -> OpaquePointer {
        guard let handle else { throw SQLiteError(code: SQLITE_MISUSE, message: "database is closed", sql: sql) }
        return handle
    }

    func error(_ rc: Int32, _ sql: String) -> SQLiteError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        return SQLiteError(code: rc, message: message, sql: sql)
    }

    /// Runs one or more statements separated by `;` that take no parameters (results are discarded).
    public func execute(_ sql: String) throws(SQLiteError) {
        let db = try liveHandle(sql)
        var errmsg: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &errmsg)
        if rc != SQLITE_OK {
            let message = errmsg.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(errmsg)
            throw SQLiteError(code: sqlite3_extended_errcode(db), message: message, sql: sql)
        }
    }

    /// Compiles one statement.
    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        try SQLiteStatement(database: self, sql: sql)
    }

    /// Runs one statement with `bindings` to completion; returns the number of rows changed.
    @discardableResult
    public func run(_ sql: String, _ bindings: SQLiteValue...) throws(SQLiteError) -> Int {
        let statement = try prepare(sql)
        try statement.bind(bindings)
        while try statement.step() {}
        return Int(sqlite3_changes(try liveHandle(sql)))
    }

    /// Runs a query and maps every row.
    public func query<T>(
        _ sql: String, _ bindings: [SQLiteValue] = [], row: (SQLiteStatement) throws(SQLiteError) -> T
    ) throws(SQLiteError) -> [T] {
        let statement = try prepare(sql)
        try statement.bind(bindings)
        var rows: [T] = []
        while try statement.step() { rows.append(try row(statement)) }
        return rows
    }

    /// The first column of the first row as an integer, or nil when there is no row or it is NULL.
    public func scalarInt64(_ sql: String, _ bindings: SQLiteValue...) throws(SQLiteError) -> Int64? {
        let statement = try prepare(sql)
        try statement.bind(bindings)
        guard try statement.step(), !statement.isNull(0) else { return nil }
        return statement.int64(0)
    }

    /// The first column of the first row as text, or nil when there is no row or it is NULL.
    public func scalarText(_ sql: String, _ bindings: SQLiteValue...) throws(SQLiteError) -> String? {
        let statement = try prepare(sql)
        try statement.bind(bindings)
        guard try statement.step() else { return nil }
        return statement.string(0)
    }

    /// True while a transaction is open on this connection.
    public var inTransaction: Bool {
        guard let handle else { return false }
        return sqlite3_get_autocommit(handle) == 0
    }

    /// Rows changed by the last INSERT/UPDATE/DELETE.
    public var changes: Int { handle.map { Int(sqlite3_changes($0)) } ?? 0 }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so the body never fails
    /// half-way with SQLITE_BUSY on lock upgrade). Commits when `body` returns; rolls back when it throws and
    /// rethrows its error. Transactions do not nest: calling this inside one throws SQLITE_MISUSE.
    public func transaction<T>(_ body: (SQLiteDatabase) throws -> T) throws -> T {
        try transaction(begin: "BEGIN IMMEDIATE", body)
    }

    /// Like ``transaction(_:)`` but `BEGIN DEFERRED`: a consistent read snapshot without taking the write lock.
    public func readTransaction<T>(_ body: (SQLiteDatabase) throws -> T) throws -> T {
        try transaction(begin: "BEGIN DEFERRED", body)
    }

    private func transaction<T>(begin: String, _ body: (SQLiteDatabase) throws -> T) throws -> T {
        if inTransaction {
            throw SQLiteError(code: SQLITE_MISUSE, message: "nested transaction", sql: begin)
        }
        try execute(begin)
        let result: T
        do {
            result = try body(self)
        } catch {
            if inTransaction { try? execute("ROLLBACK") }
            throw error
        }
        do {
            try execute("COMMIT")
        } catch {
            if inTransaction { try? execute("ROLLBACK") }
            throw error
        }
        return result
    }
}

@available(*, unavailable, message: "SQLiteDatabase is not thread-safe; guard it with a Mutex or an actor")
extension SQLiteDatabase: Sendable {}

// SQLITE_TRANSIENT: SQLite copies the bound bytes before the bind call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement. Parameters are 1-based (SQLite's convention); columns are 0-based.
public final class SQLiteStatement {
    private let database: SQLiteDatabase
    private var statement: OpaquePointer?
    public let sql: String

    init(database: SQLiteDatabase, sql: String) throws(SQLiteError) {
        self.database = database
        self.sql = sql
        let db = try database.liveHandle(sql)
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw database.error(rc == SQLITE_OK ? SQLITE_MISUSE : sqlite3_extended_errcode(db), sql)
        }
        self.statement = statement
    }

    deinit { sqlite3_finalize(statement) }

    private func check(_ rc: Int32) throws(SQLiteError) {
        guard rc == SQLITE_OK else { throw database.error(rc, sql) }
    }

    public func bind(_ index: Int32, _ value: Int64) throws(SQLiteError) {
        try check(sqlite3_bind_int64(statement, index, value))
    }

    public func bind(_ index: Int32, _ value: String) throws(SQLiteError) {
        try check(sqlite3_bind_text(statement, index, value, -1, transient))
    }

    public func bind(_ index: Int32, _ value: [UInt8]) throws(SQLiteError) {
        if value.isEmpty {
            try check(sqlite3_bind_zeroblob(statement, index, 0))
            return
        }
        let rc = value.withUnsafeBytes { buf in
            sqlite3_bind_blob(statement, index, buf.baseAddress, Int32(buf.count), transient)
        }
        try check(rc)
    }

    public func bindNull(_ index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_null(statement, index))
    }

    public func bind(_ index: Int32, _ value: SQLiteValue) throws(SQLiteError) {
        switch value {
        case .integer(let v): try bind(index, v)
        case .text(let v): try bind(index, v)
        case .blob(let v): try bind(index, v)
        case .null: try bindNull(index)
        }
    }

    /// Binds `values` to parameters 1, 2, ...
    public func bind(_ values: [SQLiteValue]) throws(SQLiteError) {
        for (offset, value) in values.enumerated() { try bind(Int32(offset + 1), value) }
    }

    /// Advances: true when a row is available, false when done.
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(statement)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let code = database.handle.map { sqlite3_extended_errcode($0) } ?? rc
            throw database.error(code, sql)
        }
    }

    /// Makes the statement runnable again and clears its bindings.
    public func reset() {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
    }

    public var columnCount: Int32 { sqlite3_column_count(statement) }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

    /// The column as UTF-8 text, or nil when NULL.
    public func string(_ column: Int32) -> String? {
        guard let text = sqlite3_column_text(statement, column) else { return nil }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// The column as bytes ([] for NULL or an empty blob).
    public func blob(_ column: Int32) -> [UInt8] {
        guard let pointer = sqlite3_column_blob(statement, column) else { return [] }
        let count = Int(sqlite3_column_bytes(statement, column))
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    public func value(_ column: Int32) -> SQLiteValue {
        switch sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: .integer(int64(column))
        case SQLITE_NULL: .null
        case SQLITE_BLOB: .blob(blob(column))
        case SQLITE_FLOAT: .text(string(column) ?? "")
        default: .text(string(column) ?? "")
        }
    }
}

@available(*, unavailable, message: "SQLiteStatement is not thread-safe")
extension SQLiteStatement: Sendable {}

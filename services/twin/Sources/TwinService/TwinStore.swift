// Persistence of devices, attributes and twins in KubeEdge's own SQLite tables (kubeedge-wire.md §6.8;
// `edge/pkg/devicetwin/dtclient/*.go`), so that the file has the layout of edgecore's database.
//
// Column contents, as edgecore writes them: `expected`/`actual` = raw value; `*_meta` = `{"timestamp":<ms>}`;
// `*_version` = `{"cloud":N,"edge":M}`; `attr_type` = the type (`string`, `int`, `deleted`…); `metadata` = the
// metadata object without `type` (always `{}`, KubeEdge's TypeMetadata has no other field); `optional` 0/1.
// Reading follows `DeviceTwinToMsgTwin` / `DeviceAttrToMsgAttr`: an empty value column means "no value".
//
// Not thread-safe (SQLiteDatabase is not Sendable): one owner, e.g. the twin service's task, uses it.

import EdgeProtocol
import Store

/// One change to the twin tables. ``TwinStore/apply(_:)`` runs a list of them in one transaction.
public enum TwinStoreChange: Sendable, Hashable {
    /// Inserts the device row, or updates name/description/state/last_online when it exists.
    case putDevice(TwinDevice)
    /// Updates `state` and `last_online` of a device.
    case updateState(deviceID: String, state: String, lastOnline: String)
    /// Deletes a device with its attributes and twins.
    case deleteDevice(String)
    /// Inserts or replaces the row of twin `name` of a device.
    case putTwin(deviceID: String, name: String, twin: MsgTwin)
    /// Deletes the row of one twin.
    case deleteTwin(deviceID: String, name: String)
    /// Inserts or replaces the row of attribute `name` of a device.
    case putAttr(deviceID: String, name: String, attr: MsgAttr)
    /// Deletes the row of one attribute.
    case deleteAttr(deviceID: String, name: String)
}

/// The `device`, `device_attr` and `device_twin` tables.
public final class TwinStore {
    public let database: SQLiteDatabase

    /// KubeEdge's DDL (regenerated from beego, §6.8), plus two lookup indexes.
    public static let schema = """
        CREATE TABLE IF NOT EXISTS `device` (
          `id` varchar(64) NOT NULL PRIMARY KEY, `name` text, `description` text, `state` text, `last_online` text );
        CREATE TABLE IF NOT EXISTS `device_attr` (
          `id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `deviceid` text, `name` text, `description` text,
          `value` text, `optional` bool, `attr_type` text, `metadata` text );
        CREATE TABLE IF NOT EXISTS `device_twin` (
          `id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `deviceid` text, `name` text, `description` text,
          `expected` text, `actual` text, `expected_meta` text, `actual_meta` text,
          `expected_version` text, `actual_version` text, `optional` bool, `attr_type` text, `metadata` text );
        CREATE INDEX IF NOT EXISTS `device_attr_deviceid_name` ON `device_attr` (`deviceid`, `name`);
        CREATE INDEX IF NOT EXISTS `device_twin_deviceid_name` ON `device_twin` (`deviceid`, `name`);
        """

    /// Opens (or creates) the database file at `path` and creates the tables.
    public convenience init(path: String, options: SQLiteOptions = SQLiteOptions()) throws(SQLiteError) {
        try self.init(database: SQLiteDatabase(path: path, options: options))
    }

    /// Uses an open connection and creates the tables if needed.
    public init(database: SQLiteDatabase) throws(SQLiteError) {
        self.database = database
        try database.execute(Self.schema)
    }

    /// Closes the connection.
    public func close() { database.close() }

    // MARK: - Reading

    /// Every device with its attributes and twins, sorted by id.
    public func loadDevices() throws(SQLiteError) -> [TwinDevice] {
        var devices = try database.query(
            "SELECT `id`, `name`, `description`, `state`, `last_online` FROM `device` ORDER BY `id`"
        ) { (row) throws(SQLiteError) -> TwinDevice in
            TwinDevice(id: row.string(0) ?? "", name: row.string(1) ?? "", description: row.string(2) ?? "",
                       state: row.string(3) ?? "", lastOnline: row.string(4) ?? "")
        }
        var index: [String: Int] = [:]
        for (i, device) in devices.enumerated() { index[device.id] = i }

        let attrs = try database.query(
            "SELECT `deviceid`, `name`, `value`, `optional`, `attr_type` FROM `device_attr` ORDER BY `id`"
        ) { (row) throws(SQLiteError) -> (String, String, MsgAttr) in
            (row.string(0) ?? "", row.string(1) ?? "",
             MsgAttr(value: row.string(2) ?? "", optional: row.int64(3) != 0,
                     metadata: TwinTypeMetadata(type: row.string(4) ?? "")))
        }
        for (deviceID, name, attr) in attrs {
            if let i = index[deviceID] { devices[i].attributes[name] = attr }
        }

        let twins = try database.query(
            """
            SELECT `deviceid`, `name`, `expected`, `actual`, `expected_meta`, `actual_meta`, `expected_version`,
                   `actual_version`, `optional`, `attr_type` FROM `device_twin` ORDER BY `id`
            """
        ) { (row) throws(SQLiteError) -> (String, String, MsgTwin) in
            (row.string(0) ?? "", row.string(1) ?? "",
             Self.msgTwin(expected: row.string(2), actual: row.string(3), expectedMeta: row.string(4),
                          actualMeta: row.string(5), expectedVersion: row.string(6), actualVersion: row.string(7),
                          optional: row.int64(8) != 0, attrType: row.string(9) ?? ""))
        }
        for (deviceID, name, twin) in twins {
            if let i = index[deviceID] { devices[i].twins[name] = twin }
        }
        return devices
    }

    /// `DeviceTwinToMsgTwin`: the cached form of a twin row.
    static func msgTwin(
        expected: String?, actual: String?, expectedMeta: String?, actualMeta: String?, expectedVersion: String?,
        actualVersion: String?, optional: Bool, attrType: String
    ) -> MsgTwin {
        var twin = MsgTwin(optional: optional, metadata: TwinTypeMetadata(type: attrType))
        if let expected, !expected.isEmpty {
            twin.expected = TwinValue(value: expected, metadata: valueMetadata(expectedMeta))
        }
        if let actual, !actual.isEmpty {
            twin.actual = TwinValue(value: actual, metadata: valueMetadata(actualMeta))
        }
        twin.expectedVersion = version(expectedVersion)
        twin.actualVersion = version(actualVersion)
        return twin
    }

    static func valueMetadata(_ text: String?) -> TwinValueMetadata? {
        guard let text, !text.isEmpty else { return nil }
        // Go ignores the unmarshal error and keeps a zero value.
        guard let value = try? TwinCodec.parse(Array(text.utf8)),
              let meta = try? TwinCodec.decodeValueMetadata(value)
        else { return TwinValueMetadata() }
        return meta
    }

    static func version(_ text: String?) -> TwinVersion? {
        guard let text, !text.isEmpty else { return nil }
        guard let value = try? TwinCodec.parse(Array(text.utf8)), let version = try? TwinCodec.decodeVersion(value)
        else { return TwinVersion() }
        return version
    }

    static func jsonText(_ value: JSONValue) -> String { String(decoding: TwinCodec.bytes(value), as: UTF8.self) }

    // MARK: - Writing

    /// Applies `changes` in one `BEGIN IMMEDIATE` transaction: all or nothing.
    public func apply(_ changes: [TwinStoreChange]) throws {
        guard !changes.isEmpty else { return }
        try database.transaction { (db: SQLiteDatabase) throws -> Void in
            for change in changes { try Self.apply(change, to: db) }
        }
    }

    static func text(_ s: String?) -> SQLiteValue { s.map { .text($0) } ?? .null }

    static func apply(_ change: TwinStoreChange, to db: SQLiteDatabase) throws(SQLiteError) {
        switch change {
        case .putDevice(let d):
            try db.run(
                """
                INSERT INTO `device` (`id`, `name`, `description`, `state`, `last_online`) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(`id`) DO UPDATE SET `name` = excluded.`name`, `description` = excluded.`description`,
                  `state` = excluded.`state`, `last_online` = excluded.`last_online`
                """, .text(d.id), .text(d.name), .text(d.description), .text(d.state), .text(d.lastOnline))
        case .updateState(let id, let state, let lastOnline):
            try db.run("UPDATE `device` SET `state` = ?, `last_online` = ? WHERE `id` = ?",
                       .text(state), .text(lastOnline), .text(id))
        case .deleteDevice(let id):
            try db.run("DELETE FROM `device` WHERE `id` = ?", .text(id))
            try db.run("DELETE FROM `device_attr` WHERE `deviceid` = ?", .text(id))
            try db.run("DELETE FROM `device_twin` WHERE `deviceid` = ?", .text(id))
        case .putTwin(let deviceID, let name, let twin):
            let values: [SQLiteValue] = [
                text(twin.expected?.value), text(twin.actual?.value),
                text(twin.expected?.metadata.map { jsonText(TwinCodec.json($0)) }),
                text(twin.actual?.metadata.map { jsonText(TwinCodec.json($0)) }),
                text(twin.expectedVersion.map { jsonText(TwinCodec.json($0)) }),
                text(twin.actualVersion.map { jsonText(TwinCodec.json($0)) }),
                .integer((twin.optional ?? true) ? 1 : 0), .text(twin.metadata?.type ?? TwinValueType.string),
                .text("{}"),
            ]
            let update = try db.prepare(
                """
                UPDATE `device_twin` SET `expected` = ?, `actual` = ?, `expected_meta` = ?, `actual_meta` = ?,
                  `expected_version` = ?, `actual_version` = ?, `optional` = ?, `attr_type` = ?, `metadata` = ?
                WHERE `deviceid` = ? AND `name` = ?
                """)
            try update.bind(values + [.text(deviceID), .text(name)])
            while try update.step() {}
            if db.changes == 0 {
                let insert = try db.prepare(
                    """
                    INSERT INTO `device_twin` (`expected`, `actual`, `expected_meta`, `actual_meta`,
                      `expected_version`, `actual_version`, `optional`, `attr_type`, `metadata`, `deviceid`, `name`,
                      `description`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '')
                    """)
                try insert.bind(values + [.text(deviceID), .text(name)])
                while try insert.step() {}
            }
        case .deleteTwin(let deviceID, let name):
            try db.run("DELETE FROM `device_twin` WHERE `deviceid` = ? AND `name` = ?", .text(deviceID), .text(name))
        case .putAttr(let deviceID, let name, let attr):
            let values: [SQLiteValue] = [
                .text(attr.value), .integer((attr.optional ?? true) ? 1 : 0),
                .text(attr.metadata?.type ?? TwinValueType.string), .text("{}"),
            ]
            let update = try db.prepare(
                """
                UPDATE `device_attr` SET `value` = ?, `optional` = ?, `attr_type` = ?, `metadata` = ?
                WHERE `deviceid` = ? AND `name` = ?
                """)
            try update.bind(values + [.text(deviceID), .text(name)])
            while try update.step() {}
            if db.changes == 0 {
                let insert = try db.prepare(
                    """
                    INSERT INTO `device_attr` (`value`, `optional`, `attr_type`, `metadata`, `deviceid`, `name`,
                      `description`) VALUES (?, ?, ?, ?, ?, ?, '')
                    """)
                try insert.bind(values + [.text(deviceID), .text(name)])
                while try insert.step() {}
            }
        case .deleteAttr(let deviceID, let name):
            try db.run("DELETE FROM `device_attr` WHERE `deviceid` = ? AND `name` = ?", .text(deviceID), .text(name))
        }
    }
}

import EdgeProtocol
import Store

/// KubeEdge's `meta` table (wire reference §5.1, §5.2): one row per object the node has, keyed by its trimmed
/// resource (`default/pod/nginx`, `default/configmap/app`, `kube-node-lease/lease/edge-1`), `type` = the middle
/// token, `value` = the object's JSON.
public final class MetaStore {
    let db: SQLiteDatabase

    public init(path: String) throws {
        db = try SQLiteDatabase(path: path)
        try db.execute("""
            CREATE TABLE IF NOT EXISTS `meta` (
              `key` varchar(256) NOT NULL PRIMARY KEY,
              `type` varchar(32) NOT NULL DEFAULT '' ,
              `value` text )
            """)
    }

    public func value(forKey key: String) throws -> JSONValue? {
        try db.query("SELECT value FROM meta WHERE key = ?1", [.text(key)]) { row in
            (try? JSONValue(parsing: Array((row.string(0) ?? "null").utf8))) ?? .null
        }.first
    }

    public func values(ofType type: String) throws -> [String] {
        try db.query("SELECT value FROM meta WHERE type = ?1 ORDER BY key", [.text(type)]) { row in row.string(0) ?? "null" }
    }

    public func put(key: String, value: JSONValue) throws {
        let text = String(decoding: try value.serialized(), as: UTF8.self)
        _ = try db.run("INSERT OR REPLACE INTO meta(key, type, value) VALUES (?1, ?2, ?3)",
                       .text(key), .text(ObjectResource.type(of: key)), .text(text))
    }

    /// Removes `key`; for a pod only the row holding that uid (a newer pod of the same name stays), and its
    /// podpatch row with it (KubeEdge's `processDeletePodDB`).
    public func delete(key: String, uid: String?) throws {
        let parts = key.split(separator: "/")
        if parts.count == 3, parts[1] == "pod", let uid, !uid.isEmpty {
            let removed = try db.run("DELETE FROM meta WHERE key = ?1 AND value LIKE ?2", .text(key), .text("%\(uid)%"))
            if removed > 0 {
                _ = try db.run("DELETE FROM meta WHERE key = ?1", .text("\(parts[0])/podpatch/\(parts[2])"))
            }
        } else {
            _ = try db.run("DELETE FROM meta WHERE key = ?1", .text(key))
        }
    }

    public func count() throws -> Int64 { try db.scalarInt64("SELECT count(*) FROM meta") ?? 0 }
}

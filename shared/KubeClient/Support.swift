// Small helpers that would otherwise pull in Foundation: whole-file reads, base64, percent-encoding, server URLs.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

enum FileIO {
    /// The whole file. Meant for small files (kubeconfigs, PEM, tokens); refuses more than `limit` bytes.
    static func contents(_ path: String, limit: Int = 16 << 20) throws(KubeError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .configuration("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .configuration("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
            guard result.count <= limit else { throw .configuration("\(path) is larger than \(limit) bytes") }
        }
        return result
    }

    static func readString(_ path: String) throws(KubeError) -> String {
        String(decoding: try contents(path), as: UTF8.self)
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// `path` itself when absolute (or when there is no base), else `directory/path`.
    static func resolve(_ path: String, relativeTo directory: String?) -> String {
        guard let directory, !directory.isEmpty, !path.hasPrefix("/") else { return path }
        return directory.hasSuffix("/") ? directory + path : directory + "/" + path
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}

enum PercentEncoding {
    /// RFC 3986 unreserved characters stay; everything else is %XX (so '/', '?', '&', '=', ' ' are all escaped).
    static func encode(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(c)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func query(_ items: [(String, String)]) -> String {
        items.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&")
    }
}

/// `scheme://host[:port][/base/path]`, as a kubeconfig's `server` or an in-cluster address.
struct ServerURL: Sendable, Hashable {
    var scheme: String
    /// Without brackets for IPv6.
    var host: String
    var port: Int?
    /// Empty or starting with "/", never ending with "/".
    var basePath: String

    init(parsing text: String) throws(KubeError) {
        guard let sep = text.firstRange(of: "://") else { throw .configuration("server URL '\(text)' has no scheme") }
        scheme = text[..<sep.lowerBound].lowercased()
        guard scheme == "https" || scheme == "http" else {
            throw .configuration("server URL '\(text)': scheme must be http or https")
        }
        var rest = Substring(text[sep.upperBound...])
        if let slash = rest.firstIndex(of: "/") {
            var path = String(rest[slash...])
            while path.hasSuffix("/") { path.removeLast() }
            basePath = path
            rest = rest[..<slash]
        } else {
            basePath = ""
        }
        if rest.contains("@") { throw .configuration("server URL '\(text)': user info is not supported") }
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw .configuration("server URL '\(text)': bad IPv6 host") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.isEmpty {
                port = nil
            } else if after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) {
                port = p
            } else {
                throw .configuration("server URL '\(text)': bad port")
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw .configuration("server URL '\(text)': bad port")
            }
            port = p
        } else {
            host = String(rest)
            port = nil
        }
        guard !host.isEmpty else { throw .configuration("server URL '\(text)' has no host") }
    }

    var effectivePort: Int { port ?? (scheme == "https" ? 443 : 80) }

    /// `host` as it goes in a URL or a `Host` header (IPv6 in brackets).
    static func authorityHost(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }

    func base(replacingHost newHost: String? = nil) -> String {
        let h = Self.authorityHost(newHost ?? host)
        let p = port.map { ":\($0)" } ?? ""
        return "\(scheme)://\(h)\(p)\(basePath)"
    }
}

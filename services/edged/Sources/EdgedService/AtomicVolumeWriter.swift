import Foundation

/// Writes a configMap or secret volume the way kubelet's AtomicWriter does, so that a running container sees a
/// change all at once: the files live in a timestamped directory `..<time>`, `..data` is a symlink to it, and each
/// visible name is a symlink into `..data`. An update writes a new directory and swaps `..data` with one rename.
/// A `subPath` mount resolved the symlink when the container started and keeps the old file, as on Kubernetes.
enum AtomicVolumeWriter {
    static func write(_ payload: [(path: String, data: [UInt8])], into dir: String, mode: Int = 0o644) throws {
        let files = FileManager.default
        try files.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let previous = try? files.destinationOfSymbolicLink(atPath: dir + "/..data")
        // A unique name in the directory: time, then a counter if two writes share it.
        let stamp = Date().timeIntervalSince1970
        var name = "..\(Int64(stamp * 1_000_000))"
        while files.fileExists(atPath: dir + "/" + name) { name += "_" }
        let fresh = dir + "/" + name
        try files.createDirectory(atPath: fresh, withIntermediateDirectories: false)
        for (path, data) in payload {
            guard !path.hasPrefix(".."), !path.contains("/../"), !path.hasPrefix("/") else {
                throw EdgedError("volume path \(path) is not allowed")
            }
            let file = fresh + "/" + path
            try files.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            guard files.createFile(atPath: file, contents: Data(data), attributes: [.posixPermissions: mode]) else {
                throw EdgedError("cannot write \(file)")
            }
        }
        // Swap ..data in one rename.
        let temporary = dir + "/..data_tmp"
        try? files.removeItem(atPath: temporary)
        try files.createSymbolicLink(atPath: temporary, withDestinationPath: name)
        guard rename(temporary, dir + "/..data") == 0 else {
            throw EdgedError("cannot swap \(dir)/..data: \(String(cString: strerror(errno)))")
        }
        // The visible names: a symlink per top-level entry; names no longer in the payload go.
        let top = Set(payload.map { String($0.path.split(separator: "/").first ?? "") })
        for entry in top where !entry.isEmpty {
            let link = dir + "/" + entry
            if (try? files.destinationOfSymbolicLink(atPath: link)) == "..data/" + entry { continue }
            try? files.removeItem(atPath: link)
            try files.createSymbolicLink(atPath: link, withDestinationPath: "..data/" + entry)
        }
        for entry in (try? files.contentsOfDirectory(atPath: dir)) ?? [] where !entry.hasPrefix("..") && !top.contains(entry) {
            try? files.removeItem(atPath: dir + "/" + entry)
        }
        if let previous, previous != name { try? files.removeItem(atPath: dir + "/" + previous) }
    }
}

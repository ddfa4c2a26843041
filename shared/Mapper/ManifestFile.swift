import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Devices from a local YAML file of Device and DeviceModel manifests (multi-document), for standalone use. The
/// file is checked every `interval` and re-applied when it changes, so devices can be added, changed and removed
/// without a restart.
public struct ManifestFile: Sendable {
    public let path: String
    public let interval: Duration

    public init(path: String, interval: Duration = .seconds(2)) {
        self.path = path
        self.interval = interval
    }

    /// Reads and parses the file: one result per Device in it.
    public func load(parser: SpecParser) throws(SpecError) -> [(name: String, result: Result<DeviceSpec, SpecError>)] {
        let text = try Self.read(path)
        return parser.devices(in: try SpecDocuments.load(yaml: text))
    }

    /// Loads the file into `runtime` (throws when it cannot be read or is not YAML), then watches it until the
    /// task is cancelled.
    public func run(into runtime: MapperRuntime, logger: Logger) async throws(SpecError) {
        var stamp = Self.stamp(path)
        runtime.replaceFileDevices(try load(parser: runtime.settings.parser))
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            let now = Self.stamp(path)
            guard now != stamp else { continue }
            stamp = now
            do {
                runtime.replaceFileDevices(try load(parser: runtime.settings.parser))
                logger.info("device file reloaded", metadata: ["file": "\(path)"])
            } catch {
                logger.error("device file not reloaded; keeping the devices it had",
                             metadata: ["file": "\(path)", "reason": "\(error)"])
            }
        }
    }

    static func stamp(_ path: String) -> [Int] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        #if canImport(Darwin)
        return [Int(info.st_mtimespec.tv_sec), Int(info.st_mtimespec.tv_nsec), Int(info.st_size), Int(info.st_ino)]
        #else
        return [Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec), Int(info.st_size), Int(info.st_ino)]
        #endif
    }

    static func read(_ path: String) throws(SpecError) -> String {
        guard let file = fopen(path, "rb") else {
            throw SpecError("cannot read device file \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n > 0 { bytes.append(contentsOf: buffer[0..<n]) }
            if n < buffer.count { break }
        }
        if ferror(file) != 0 { throw SpecError("cannot read device file \(path)") }
        return String(decoding: bytes, as: UTF8.self)
    }
}

import CRIClient
import Foundation
import Logging

/// kubelet's image garbage collection (`realImageGCManager`), with KubeEdge edged's thresholds: when the image
/// filesystem is `high`% full or more, unused images are removed, least recently used first, until it is down to
/// `low`%; images younger than `minimumAge` (since edged first saw them) and pinned ones (the sandbox image) stay. Pure.
struct ImageGCPolicy: Sendable, Equatable {
    var high: Int = 80
    var low: Int = 40
    var minimumAge: Double = 120

    struct Image: Sendable, Equatable {
        var id: String
        var size: UInt64
        var inUse: Bool
        var pinned: Bool
        var firstSeen: Double
        var lastUsed: Double
    }

    /// The images to remove, in order, and the bytes they free; nothing when usage is under `high`.
    func choose(_ images: [Image], capacity: UInt64, available: UInt64, now: Double) -> (remove: [String], freed: UInt64, wanted: UInt64) {
        guard capacity > 0 else { return ([], 0, 0) }
        let usedPercent = 100 - Int(available * 100 / capacity)
        guard usedPercent >= high else { return ([], 0, 0) }
        let target = capacity * UInt64(100 - min(max(low, 0), 100)) / 100
        guard target > available else { return ([], 0, 0) }
        let wanted = target - available
        var remove: [String] = []
        var freed: UInt64 = 0
        let candidates = images.filter { !$0.inUse && !$0.pinned && now - $0.firstSeen >= minimumAge }
            .sorted { ($0.lastUsed, $0.firstSeen) < ($1.lastUsed, $1.firstSeen) }
        for image in candidates where freed < wanted {
            remove.append(image.id)
            freed += image.size
        }
        return (remove, freed, wanted)
    }
}

/// Runs the policy against the runtime every period (kubelet looks every 5 minutes).
actor ImageGarbageCollector {
    let cri: CRIClient
    let policy: ImageGCPolicy
    let sandboxImage: String
    let logger: Logger
    private var firstSeen: [String: Double] = [:]
    private var lastUsed: [String: Double] = [:]

    init(cri: CRIClient, policy: ImageGCPolicy, sandboxImage: String, logger: Logger) {
        self.cri = cri
        self.policy = policy
        self.sandboxImage = sandboxImage
        self.logger = logger
    }

    func run(every period: Duration) async throws {
        while !Task.isCancelled {
            await collect()
            try await Task.sleep(for: period)
        }
    }

    /// One pass: the images the runtime has, which are in use, the image filesystem's fill; removes what the policy
    /// chooses. Returns the ids removed.
    @discardableResult
    func collect() async -> [String] {
        let now = Date().timeIntervalSince1970
        guard let images = try? await cri.listImages(), let containers = try? await cri.listContainers(),
              let mount = (try? await cri.imageFilesystems())?.first else { return [] }
        var stats = statvfs()
        guard statvfs(mount, &stats) == 0 else { return [] }
        let capacity = UInt64(stats.f_blocks) * UInt64(stats.f_frsize)
        let available = UInt64(stats.f_bavail) * UInt64(stats.f_frsize)
        let used = Set(containers.flatMap { [$0.imageRef, $0.image.image] })
        var records: [ImageGCPolicy.Image] = []
        for image in images {
            let inUse = used.contains(image.id) || image.repoTags.contains(where: used.contains)
                || image.repoDigests.contains(where: used.contains)
            if firstSeen[image.id] == nil { firstSeen[image.id] = now }
            if inUse { lastUsed[image.id] = now }
            records.append(.init(id: image.id, size: image.size, inUse: inUse,
                                 pinned: image.pinned || image.repoTags.contains(sandboxImage),
                                 firstSeen: firstSeen[image.id] ?? now, lastUsed: lastUsed[image.id] ?? 0))
        }
        let known = Set(images.map(\.id))
        firstSeen = firstSeen.filter { known.contains($0.key) }
        lastUsed = lastUsed.filter { known.contains($0.key) }
        let (remove, freed, wanted) = policy.choose(records, capacity: capacity, available: available, now: now)
        guard !remove.isEmpty || wanted > 0 else { return [] }
        var removed: [String] = []
        for id in remove {
            do {
                try await cri.removeImage(id)
                removed.append(id)
            } catch {
                logger.warning("image garbage collection could not remove an image", metadata: ["image": "\(id)", "error": "\(error)"])
            }
        }
        if freed < wanted {
            logger.warning("image garbage collection freed less than needed", metadata: [
                "freed_bytes": "\(freed)", "wanted_bytes": "\(wanted)", "removed": "\(removed.count)",
            ])
        } else {
            logger.info("image garbage collection", metadata: ["removed": "\(removed.count)", "freed_bytes": "\(freed)"])
        }
        return removed
    }
}

// One watch request: the initial state (when no resourceVersion is given) as ADDED events, then the event log
// from there, filtered by namespace and selectors, as newline-delimited JSON (or one-row Tables for kubectl).

import EdgeProtocol
import KubeProtobuf

struct Watcher: Sendable {
    let core: APICore
    /// The stored resource.
    let info: ResourceInfo
    /// The resource the client asked for and the conversion to it, when it is another version's view
    /// (events.k8s.io/v1 over core/v1 Events); selectors then match the converted object.
    let presentedAs: (info: ResourceInfo, convert: @Sendable (JSONValue) -> JSONValue)?
    let labelSelector: LabelSelector
    let fieldSelector: FieldSelector?
    let table: IncludeObject?
    let initial: [JSONValue]
    /// The keys the client currently sees as matching; nil when it resumed from a resourceVersion (unknown).
    let knownAtStart: Set<String>?
    let stream: WatchStream
    /// Bookmarks asked for by the client, and at what interval.
    let bookmarks: Duration?
    let deadline: ContinuousClock.Instant

    init(
        core: APICore, info: ResourceInfo, presentedAs: (ResourceInfo, @Sendable (JSONValue) -> JSONValue)? = nil,
        namespace: String?, resourceVersion: String?, labelSelector: LabelSelector,
        fieldSelector: FieldSelector?, bookmarks: Duration?, table: IncludeObject?, timeout: Duration
    ) throws(APIError) {
        self.presentedAs = presentedAs.map { (info: $0.0, convert: $0.1) }
        self.bookmarks = bookmarks
        self.deadline = ContinuousClock.now.advanced(by: timeout)
        self.core = core
        self.info = info
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.table = table
        let namespace = info.namespaced ? (namespace ?? fieldSelector?.requiredValue("metadata.namespace")) : nil
        let start: Int64
        if let resourceVersion, !resourceVersion.isEmpty, resourceVersion != "0" {
            guard let rv = Int64(resourceVersion) else {
                throw APIError.badRequest("invalid resource version \"\(resourceVersion)\"")
            }
            start = rv
            initial = []
            knownAtStart = nil
        } else {
            let list = try core.list(info, namespace: namespace, labelSelector: labelSelector,
                                     fieldSelector: presentedAs == nil ? fieldSelector : nil)
            start = list.resourceVersion
            initial = presentedAs.map { view in
                list.items.map(view.1).filter { fieldSelector?.matches($0) ?? true }
            } ?? list.items
            knownAtStart = Set(list.items.map { Self.identity($0) })
        }
        do {
            // The store's bookmarks are this watcher's clock ticks: for the client's bookmarks and the timeout.
            let tick = min(bookmarks ?? Self.maxTick, Self.maxTick, timeout)
            stream = try core.store.watch(resource: info.storageKey, namespace: namespace, after: start,
                                          bookmarkInterval: tick)
        } catch StoreError.gone(let oldest) {
            throw APIError.gone("too old resource version: \(start) (\(oldest))")
        } catch {
            throw APIError.internalError("\(error)")
        }
    }

    static let maxTick: Duration = .seconds(5)

    static func identity(_ object: JSONValue) -> String {
        (object.string(at: "metadata.namespace") ?? "") + "/" + (object.string(at: "metadata.name") ?? "")
    }

    /// Streams the events: JSON lines, or length-prefixed protobuf frames when `protobuf` is given.
    func run(protobuf: KubeProtoCodec? = nil, _ emit: (_ line: [UInt8]) async throws -> Void) async throws {
        var first = true
        func line(_ type: String, _ object: JSONValue) throws -> [UInt8] {
            var payload = object
            if let table, type != "BOOKMARK", type != "ERROR" {
                payload = Tables.single(info, object, includeObject: table, includeColumns: first)
                first = false
            }
            if let protobuf { return try protobuf.watchFrame(type: type, object: payload) }
            let event: JSONValue = ["type": .string(type), "object": payload]
            return try event.serialized() + [0x0A]
        }
        var known = knownAtStart
        for object in initial { try await emit(try line("ADDED", object)) }
        var nextBookmark = bookmarks.map { ContinuousClock.now.advanced(by: $0) }
        do {
            for try await event in stream {
                let now = ContinuousClock.now
                if now >= deadline { return }
                if event.type == .bookmark {
                    guard let due = nextBookmark, now >= due, let bookmarks else { continue }
                    nextBookmark = now.advanced(by: bookmarks)
                    let shown = presentedAs?.info ?? info
                    let bookmark: JSONValue = [
                        "kind": .string(shown.kind), "apiVersion": .string(shown.apiVersion),
                        "metadata": ["resourceVersion": .string(String(event.rv))],
                    ]
                    try await emit(try line("BOOKMARK", bookmark))
                    continue
                }
                let stored = try core.decode(event.object, as: info)
                let object = presentedAs.map { $0.convert(stored) } ?? stored
                let id = Self.identity(object)
                let matches = labelSelector.matches(object[path: ["metadata", "labels"]])
                    && (fieldSelector?.matches(object) ?? true)
                switch event.type {
                case .added:
                    guard matches else { continue }
                    known?.insert(id)
                    try await emit(try line("ADDED", object))
                case .modified:
                    if matches {
                        let wasKnown = known.map { $0.contains(id) } ?? true
                        known?.insert(id)
                        try await emit(try line(wasKnown ? "MODIFIED" : "ADDED", object))
                    } else if known?.remove(id) != nil {
                        try await emit(try line("DELETED", object))  // it left the selection
                    }
                case .deleted:
                    let wasKnown = known.map { $0.contains(id) } ?? matches
                    known?.remove(id)
                    if wasKnown { try await emit(try line("DELETED", object)) }
                case .bookmark:
                    break
                }
            }
        } catch StoreError.gone(let oldest) {
            let status = APIError.gone("too old resource version (oldest available: \(oldest))").status
            try await emit(try line("ERROR", status))
        }
    }
}

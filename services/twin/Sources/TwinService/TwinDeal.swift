// The twin update / version / document algorithm of edgecore (`edge/pkg/devicetwin/dtmanager/twin.go`
// DealMsgTwin, dealTwinAdd, dealTwinCompare, dealTwinDelete, dealVersion; kubeedge-wire.md §6.5), ported to
// value types. Where edgecore dereferences a nil pointer (and would crash) or leaves its cache different from
// SQLite, this port takes the safe branch; everything that reaches MQTT or the cloud is otherwise the same.

/// Who asked for the change (edgecore's deal types).
enum TwinDealType {
    /// 0: an MQTT `twin/update` from a mapper or app. Edge versions are bumped.
    case rest
    /// 1: a cloud sync (membership add/detail, `cloud_updated`). Versions must be given and not be older.
    case sync
    /// 3: a sync that deletes a twin; a missing version is accepted.
    case syncDelete
}

/// The outcome of one request over one device's twins.
struct TwinDeal {
    let type: TwinDealType
    let now: Int64
    /// `update/result` entries (REST only); a nil entry is a deleted twin.
    var result: [String: MsgTwin?] = [:]
    /// `edge_updated` entries (with versions).
    var syncResult: [String: MsgTwin] = [:]
    /// `update/document` entries.
    var document: [String: TwinDocumentEntry] = [:]
    /// Twins whose row must be written.
    var changed: Set<String> = []
    /// Notes for the log (e.g. a rejected sync).
    var notes: [String] = []

    init(type: TwinDealType, now: Int64) {
        self.type = type
        self.now = now
    }

    var isREST: Bool { type == .rest }

    /// `dealVersion`: REST bumps the edge counter; a sync must carry a version whose cloud and edge counters are
    /// both ≥ the local ones, and is then adopted.
    static func dealVersion(_ version: inout TwinVersion, _ request: TwinVersion?, _ type: TwinDealType) -> Bool {
        switch type {
        case .rest:
            version.edge += 1
            return true
        case .sync, .syncDelete:
            guard let request else { return type == .syncDelete }
            if version.cloud > request.cloud || version.edge > request.edge { return false }
            version = request
            return true
        }
    }

    /// `DealMsgTwin`: processes the request's twins (in sorted key order; Go's map order is random) against
    /// `twins`. Returns the first REST error; `twins` is then partially modified and must be discarded.
    mutating func deal(_ request: [String: MsgTwin?], into twins: inout [String: MsgTwin]) -> TwinError? {
        for key in request.keys.sorted() {
            let message = request[key]!
            if var twin = twins[key] {
                if (isREST && message == nil) || (!isREST && message?.isDeleted == true) {
                    delete(key, &twin, message)
                    twins[key] = twin
                } else if let message {
                    if let error = compare(key, &twin, message) { return error }
                    twins[key] = twin
                } else {
                    // A sync with a null twin: edgecore dereferences nil here. Nothing to do.
                    notes.append("twin \(key): null in a cloud sync ignored")
                }
            } else {
                if let error = add(key, message, &twins) { return error }
            }
        }
        return nil
    }

    // MARK: - dealTwinDelete

    mutating func delete(_ key: String, _ twin: inout MsgTwin, _ message: MsgTwin?) {
        let entry = TwinDocumentEntry(last: twin.withoutVersions, current: nil)
        let allowed = (isREST && message == nil && (twin.optional ?? true)) || (!isREST && message?.isDeleted == true)
        guard allowed else {
            if isREST { notes.append("twin \(key): not optional, delete refused") }
            return
        }
        if twin.isDeleted {
            // edgecore returns here and leaves the document entry and an empty sync entry behind.
            document[key] = entry
            syncResult[key] = MsgTwin()
            return
        }
        let dealType: TwinDealType = isREST ? .rest : .syncDelete
        let original = twin
        let hasExpected = twin.expectedVersion != nil
        let hasActual = twin.actualVersion != nil
        var expectedVersion = twin.expectedVersion ?? TwinVersion()
        var actualVersion = twin.actualVersion ?? TwinVersion()
        // Both versions are checked before anything changes (edgecore could delete `expected` and then refuse
        // `actual`, leaving its cache different from SQLite).
        if hasExpected, !Self.dealVersion(&expectedVersion, isREST ? nil : message?.expectedVersion, dealType) {
            syncResult[key] = original
            notes.append("twin \(key): cloud delete refused, local expected version is newer")
            return
        }
        if hasActual, !Self.dealVersion(&actualVersion, isREST ? nil : message?.actualVersion, dealType) {
            syncResult[key] = original
            notes.append("twin \(key): cloud delete refused, local actual version is newer")
            return
        }
        if hasExpected { twin.expected = TwinValue() }
        if hasActual { twin.actual = TwinValue() }
        if !hasExpected && !hasActual {
            // edgecore does nothing for a twin without versions (and a second delete then works); delete it.
            twin.expected = nil
            twin.actual = nil
        }
        twin.expectedVersion = expectedVersion
        twin.actualVersion = actualVersion
        twin.metadata = TwinTypeMetadata(type: TwinValueType.deleted)
        changed.insert(key)
        document[key] = entry
        if isREST {
            result.updateValue(nil, forKey: key)
            syncResult[key] = twin
        }
    }

    // MARK: - dealTwinCompare

    mutating func compare(_ key: String, _ twin: inout MsgTwin, _ message: MsgTwin) -> TwinError? {
        var entry = TwinDocumentEntry(last: twin.isDeleted ? nil : twin.withoutVersions, current: nil)
        var sync = MsgTwin()
        var isChange = false
        var isSyncAllow = true
        // The type values are checked against: the stored one, or the request's when the twin is deleted.
        let valueType = twin.isDeleted ? (message.metadata?.type ?? TwinValueType.string)
                                       : (twin.metadata?.type ?? TwinValueType.string)

        if let requested = message.expected {
            let value = requested.value ?? ""
            if let error = TwinValidation.validate(type: valueType, value: value) {
                if isREST { return error }
                notes.append("twin \(key): cloud expected value \"\(value)\" rejected: \(error.reason)")
            } else {
                var version = twin.expectedVersion ?? TwinVersion()
                if Self.dealVersion(&version, isREST ? nil : message.expectedVersion, type) {
                    twin.expected = TwinValue(value: value, metadata: TwinValueMetadata(timestamp: now))
                    twin.expectedVersion = version
                    if isREST {
                        sync.expected = twin.expected
                        sync.expectedVersion = version
                        sync.optional = twin.optional
                        sync.metadata = twin.metadata
                    }
                    isChange = true
                } else {
                    // Version conflict: report the edge's value back to the cloud.
                    sync.expected = twin.expected.map { TwinValue(value: $0.value, metadata: $0.metadata) }
                    sync.expectedVersion = twin.expectedVersion ?? TwinVersion()
                    sync.optional = twin.optional
                    sync.metadata = twin.metadata
                    isSyncAllow = false
                    notes.append("twin \(key): cloud expected refused, version conflict")
                }
            }
        }

        if isSyncAllow, let requested = message.actual {
            let value = requested.value ?? ""
            if let error = TwinValidation.validate(type: valueType, value: value) {
                if isREST { return error }
                notes.append("twin \(key): cloud actual value \"\(value)\" rejected: \(error.reason)")
            } else {
                var version = twin.actualVersion ?? TwinVersion()
                if Self.dealVersion(&version, isREST ? nil : message.actualVersion, type) {
                    twin.actual = TwinValue(value: value, metadata: TwinValueMetadata(timestamp: now))
                    twin.actualVersion = version
                    if isREST {
                        sync.actual = twin.actual
                        sync.optional = twin.optional
                        sync.metadata = twin.metadata
                        sync.actualVersion = version
                    }
                    isChange = true
                } else {
                    sync.actual = twin.actual.map { TwinValue(value: $0.value, metadata: $0.metadata) }
                    sync.actualVersion = twin.actualVersion ?? TwinVersion()
                    sync.optional = twin.optional
                    sync.metadata = twin.metadata
                    isSyncAllow = false
                    notes.append("twin \(key): cloud actual refused, version conflict")
                }
            }
        }

        if isSyncAllow {
            // `optional` may only go from true to false.
            if let optional = message.optional, optional != (twin.optional ?? true), twin.optional ?? true {
                twin.optional = optional
                sync.optional = optional
                isChange = true
            }
            if let metadata = message.metadata {
                if metadata != twin.metadata {
                    // Only a deleted twin takes the request's type; any other difference still counts as a change.
                    if twin.isDeleted {
                        twin.metadata = TwinTypeMetadata(type: metadata.type)
                        sync.metadata = metadata
                    }
                    isChange = true
                }
            } else if twin.isDeleted {
                twin.metadata = TwinTypeMetadata(type: TwinValueType.string)
                sync.metadata = twin.metadata
                isChange = true
            }
        }

        if isChange {
            changed.insert(key)
            entry.current = twin.withoutVersions
            document[key] = entry
            if isREST {
                result.updateValue(sync.withoutVersions, forKey: key)
                syncResult[key] = sync
            } else if !isSyncAllow {
                syncResult[key] = sync
            }
        } else if !isREST && !isSyncAllow {
            syncResult[key] = sync
        }
        return nil
    }

    // MARK: - dealTwinAdd

    mutating func add(_ key: String, _ message: MsgTwin?, _ twins: inout [String: MsgTwin]) -> TwinError? {
        guard let message else {
            if isREST { return .requestBodyWrong }
            notes.append("twin \(key): null for an unknown twin in a cloud sync ignored")
            return nil
        }
        document[key] = TwinDocumentEntry()
        syncResult[key] = MsgTwin()
        let valueType = message.metadata.map(\.type) ?? TwinValueType.string
        var row = MsgTwin(optional: message.optional ?? true, metadata: TwinTypeMetadata(type: valueType))
        if !isREST && message.isDeleted {
            row.expectedVersion = message.expectedVersion
            row.actualVersion = message.actualVersion
        }

        if let requested = message.expected {
            var version = TwinVersion()
            guard Self.dealVersion(&version, isREST ? nil : message.expectedVersion, type) else {
                // A sync value without a version: the twin is not added, but edgecore still publishes the empty
                // document entry and reports an empty twin to the cloud (captured in kubeedge-wire.md §13.5).
                notes.append("twin \(key): cloud expected value without expected_version, twin not added")
                return nil
            }
            let value = requested.value ?? ""
            if let error = TwinValidation.validate(type: valueType, value: value) {
                document.removeValue(forKey: key)
                syncResult.removeValue(forKey: key)
                if isREST { return error }
                notes.append("twin \(key): cloud expected value \"\(value)\" rejected: \(error.reason)")
                return nil
            }
            row.expected = TwinValue(value: value, metadata: TwinValueMetadata(timestamp: now))
            row.expectedVersion = version
        }

        if let requested = message.actual {
            var version = TwinVersion()
            guard Self.dealVersion(&version, isREST ? nil : message.actualVersion, type) else {
                notes.append("twin \(key): cloud actual value without actual_version, twin not added")
                return nil
            }
            let value = requested.value ?? ""
            if let error = TwinValidation.validate(type: valueType, value: value) {
                document.removeValue(forKey: key)
                syncResult.removeValue(forKey: key)
                if isREST { return error }
                notes.append("twin \(key): cloud actual value \"\(value)\" rejected: \(error.reason)")
                return nil
            }
            row.actual = TwinValue(value: value, metadata: TwinValueMetadata(timestamp: now))
            row.actualVersion = version
        }

        // The cache holds what reading the row back gives (DeviceTwinToMsgTwin).
        let twin = TwinStore.cachedForm(row)
        twins[key] = twin
        changed.insert(key)
        document[key] = TwinDocumentEntry(last: nil, current: twin.isDeleted ? nil : twin.withoutVersions)
        if isREST {
            syncResult[key] = twin
            result.updateValue(twin.withoutVersions, forKey: key)
        } else {
            syncResult.removeValue(forKey: key)
        }
        return nil
    }

    // MARK: - Results

    /// `BuildDeviceTwinResult(…, 0)`: nil entries stay `null`, deleted twins are left out, versions stripped.
    static func mapperView(_ twins: [String: MsgTwin?]) -> [String: MsgTwin?] {
        var out: [String: MsgTwin?] = [:]
        for (key, twin) in twins {
            guard let twin else {
                out.updateValue(nil, forKey: key)
                continue
            }
            if twin.isDeleted { continue }
            out.updateValue(twin.withoutVersions, forKey: key)
        }
        return out
    }

    /// `BuildDeviceTwinDelta`: every non-deleted twin with a non-empty expected value, and `delta` for those whose
    /// actual value differs. Nil when `delta` is empty (nothing is published then).
    static func delta(of twins: [String: MsgTwin]) -> (twin: [String: MsgTwin], delta: [String: String])? {
        var twinOut: [String: MsgTwin] = [:]
        var delta: [String: String] = [:]
        for (key, twin) in twins where !twin.isDeleted {
            let expected = twin.expected?.value ?? ""
            if expected.isEmpty { continue }
            if expected != (twin.actual?.value ?? "") { delta[key] = expected }
            twinOut[key] = twin.withoutVersions
        }
        return delta.isEmpty ? nil : (twinOut, delta)
    }
}

extension TwinStore {
    /// What a twin looks like after a round trip through its row (`DeviceTwinToMsgTwin`).
    static func cachedForm(_ twin: MsgTwin) -> MsgTwin {
        func value(_ v: TwinValue?) -> TwinValue? {
            guard let v, let text = v.value, !text.isEmpty else { return nil }
            return TwinValue(value: text, metadata: v.metadata)
        }
        return MsgTwin(
            expected: value(twin.expected), actual: value(twin.actual), optional: twin.optional ?? true,
            metadata: TwinTypeMetadata(type: twin.metadata?.type ?? TwinValueType.string),
            expectedVersion: twin.expectedVersion, actualVersion: twin.actualVersion)
    }

    /// The cached form of an attribute (`DeviceAttrToMsgAttr` after `MsgAttrToDeviceAttr`).
    static func cachedForm(_ attr: MsgAttr) -> MsgAttr {
        MsgAttr(value: attr.value, optional: attr.optional ?? true,
                metadata: TwinTypeMetadata(type: attr.metadata?.type ?? TwinValueType.string))
    }
}

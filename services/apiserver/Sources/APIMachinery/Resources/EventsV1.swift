import EdgeProtocol

/// `events.k8s.io/v1` Events are a second view of the core/v1 Events (one storage, as in kube-apiserver), converted
/// field by field as k8s.io/kubernetes `pkg/apis/events/v1/conversion.go` does: `regarding` is `involvedObject`,
/// `note` is `message`, `reportingController` is `reportingComponent`, and the core-only fields come back as
/// `deprecatedSource`, `deprecatedFirstTimestamp`, `deprecatedLastTimestamp` and `deprecatedCount`.
public enum EventsV1 {
    public static let info = ResourceInfo(group: "events.k8s.io", version: "v1", plural: "events", singular: "event",
                                          kind: "Event", namespaced: true, shortNames: ["ev"])

    /// (events.k8s.io/v1 name, core/v1 name) of the fields that are renamed.
    static let renamed: [(String, String)] = [
        ("regarding", "involvedObject"), ("note", "message"), ("reportingController", "reportingComponent"),
        ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"),
    ]

    /// A core/v1 Event as events.k8s.io/v1 shows it.
    public static func fromCore(_ core: JSONValue) -> JSONValue {
        convert(core, apiVersion: info.apiVersion, from: \.1, to: \.0)
    }

    /// An events.k8s.io/v1 Event as core/v1 stores it.
    public static func toCore(_ event: JSONValue) -> JSONValue {
        convert(event, apiVersion: "v1", from: \.0, to: \.1)
    }

    private static func convert(_ object: JSONValue, apiVersion: String, from: KeyPath<(String, String), String>,
                                to: KeyPath<(String, String), String>) -> JSONValue {
        guard case .object(let members) = object else { return object }
        var converted: [(key: String, value: JSONValue)] = []
        for member in members {
            if member.key == "apiVersion" {
                converted.append((member.key, .string(apiVersion)))
            } else if let pair = renamed.first(where: { $0[keyPath: from] == member.key }) {
                converted.append((pair[keyPath: to], member.value))
            } else if renamed.contains(where: { $0[keyPath: to] == member.key }) {
                continue  // the other view's name for a renamed field: not a field of this version
            } else {
                converted.append(member)
            }
        }
        return .object(converted)
    }
}

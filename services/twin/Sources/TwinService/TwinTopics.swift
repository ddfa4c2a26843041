// The KubeEdge device-twin topics (MQTT side) and cloud resources (link side) that the twin engine reads and
// writes (kubeedge-wire.md §6.2, §4.3; `edge/pkg/devicetwin/dtcommon/common.go`). To be merged into the project's
// `Topics` file; kept separate here so that this module declares no name that clashes with EdgeProtocol.

/// Topic strings of KubeEdge's devicetwin (`$hw/events/...`) and the resources of its cloud messages.
public enum TwinTopics {
    // MARK: prefixes and suffixes (dtcommon/common.go)

    /// `$hw/events/device/`: every per-device topic starts with this, then the device id.
    public static let devicePrefix = "$hw/events/device/"
    /// `$hw/events/node/`: every membership topic starts with this, then the node name.
    public static let nodePrefix = "$hw/events/node/"

    public static let twinUpdateSuffix = "/twin/update"
    public static let twinUpdateResultSuffix = "/twin/update/result"
    public static let twinUpdateDeltaSuffix = "/twin/update/delta"
    public static let twinUpdateDocumentSuffix = "/twin/update/document"
    public static let twinGetSuffix = "/twin/get"
    public static let twinGetResultSuffix = "/twin/get/result"
    public static let twinCloudUpdatedSuffix = "/twin/cloud_updated"
    public static let twinEdgeUpdatedSuffix = "/twin/edge_updated"
    public static let stateUpdateSuffix = "/state/update"
    public static let stateUpdateResultSuffix = "/state/update/result"
    public static let stateGetSuffix = "/state/get"
    public static let deviceUpdatedSuffix = "/updated"
    public static let membershipGetSuffix = "/membership/get"
    public static let membershipGetResultSuffix = "/membership/get/result"
    public static let membershipUpdatedSuffix = "/membership/updated"
    public static let membershipDetailResultSuffix = "/membership/detail/result"

    // MARK: inbound (mapper/app → twin)

    public static func twinUpdate(_ device: String) -> String { devicePrefix + device + twinUpdateSuffix }
    public static func twinGet(_ device: String) -> String { devicePrefix + device + twinGetSuffix }
    public static func twinCloudUpdated(_ device: String) -> String { devicePrefix + device + twinCloudUpdatedSuffix }
    public static func stateUpdate(_ device: String) -> String { devicePrefix + device + stateUpdateSuffix }
    /// Attribute update (classified by KubeEdge but not subscribed by its eventbus by default); twin also
    /// publishes the accepted attributes on this same topic.
    public static func deviceUpdated(_ device: String) -> String { devicePrefix + device + deviceUpdatedSuffix }
    public static func membershipGet(_ node: String) -> String { nodePrefix + node + membershipGetSuffix }

    // MARK: outbound (twin → mapper/app)

    /// Result of a twin update. With an empty device id (`$hw/events/device//twin/update/result`) when the
    /// request payload could not be decoded, exactly as edgecore does.
    public static func twinUpdateResult(_ device: String) -> String { devicePrefix + device + twinUpdateResultSuffix }
    public static func twinUpdateDelta(_ device: String) -> String { devicePrefix + device + twinUpdateDeltaSuffix }
    public static func twinUpdateDocument(_ device: String) -> String {
        devicePrefix + device + twinUpdateDocumentSuffix
    }
    public static func twinGetResult(_ device: String) -> String { devicePrefix + device + twinGetResultSuffix }
    public static func stateUpdateResult(_ device: String) -> String {
        devicePrefix + device + stateUpdateResultSuffix
    }
    public static func membershipGetResult(_ node: String) -> String { nodePrefix + node + membershipGetResultSuffix }
    public static func membershipUpdated(_ node: String) -> String { nodePrefix + node + membershipUpdatedSuffix }

    // MARK: cloud resources (edge → cloud, source "twin", group "resource")

    /// `device/{id}/twin/edge_updated`, operation `update`: DeviceTwinResult with versions.
    public static func edgeUpdatedResource(_ device: String) -> String { "device/" + device + twinEdgeUpdatedSuffix }
    /// `device/{id}/state/update`, operation `update`: the state result as a JSON **string**.
    public static func stateUpdateResource(_ device: String) -> String { "device/" + device + stateUpdateSuffix }
    /// `membership/detail`, operation `get`: asks the cloud for the full membership (content is a JSON string).
    public static let membershipDetailResource = "membership/detail"

    // MARK: cloud resources (cloud → edge, group "twin"), as classified by edgecore (§6.7)

    /// `membership` (update). Note that `membership/detail` also contains "membership": test for detail first.
    public static let membershipResource = "membership"
    /// `device/{id}/twin/cloud_updated` (update).
    public static func cloudUpdatedResource(_ device: String) -> String { "device/" + device + twinCloudUpdatedSuffix }

    /// The source and group of every message twin sends to the cloud.
    public static let cloudSource = "twin"
    public static let cloudGroup = "resource"
}

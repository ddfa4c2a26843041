import ServiceKit

public enum MapperBLE: ServiceDescription {
    public static let identity = ServiceIdentity(name: "mapper-ble", side: .edge)
    public static let abstract = "Edge: Bluetooth LE devices as KubeEdge device twins."
}

import ServiceKit

public enum MapperModbus: ServiceDescription {
    public static let identity = ServiceIdentity(name: "mapper-modbus", side: .edge)
    public static let abstract = "Edge: Modbus TCP/RTU devices as KubeEdge device twins."
}

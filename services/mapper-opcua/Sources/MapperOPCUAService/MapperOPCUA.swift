import ServiceKit

public enum MapperOPCUA: ServiceDescription {
    public static let identity = ServiceIdentity(name: "mapper-opcua", side: .edge)
    public static let abstract = "Edge: OPC UA devices as KubeEdge device twins."
}

import ServiceKit

public enum Twin: ServiceDescription {
    public static let identity = ServiceIdentity(name: "twin", side: .edge)
    public static let abstract = "Edge: device twins on KubeEdge's $hw/events topics (KubeEdge devicetwin)."
}

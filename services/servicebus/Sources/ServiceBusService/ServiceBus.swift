import ServiceKit

public enum ServiceBus: ServiceDescription {
    public static let identity = ServiceIdentity(name: "servicebus", side: .edge)
    public static let abstract = "Edge: HTTP relay between cloud and edge apps (KubeEdge servicebus)."
}

import ServiceKit

public enum EventBus: ServiceDescription {
    public static let identity = ServiceIdentity(name: "eventbus", side: .edge)
    public static let abstract = "Edge: the device and app MQTT surface (KubeEdge eventbus)."
}

import ServiceKit

public enum Edged: ServiceDescription {
    public static let identity = ServiceIdentity(name: "edged", side: .edge)
    public static let abstract = "Edge: runs pods in containerd over CRI (KubeEdge edged)."
}

import ServiceKit

public enum Meta: ServiceDescription {
    public static let identity = ServiceIdentity(name: "meta", side: .edge)
    public static let abstract = "Edge: local metadata store and MetaServer (KubeEdge metamanager)."
}

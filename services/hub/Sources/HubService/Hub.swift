import ServiceKit

public enum Hub: ServiceDescription {
    public static let identity = ServiceIdentity(name: "hub", side: .edge)
    public static let abstract = "Edge: the websocket link to cloudhub (KubeEdge edgehub)."
}

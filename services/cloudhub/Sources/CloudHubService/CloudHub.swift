import ServiceKit

public enum CloudHub: ServiceDescription {
    public static let identity = ServiceIdentity(name: "cloudhub", side: .cloud)
    public static let abstract = "Cloud: accepts edge nodes' websocket links (KubeEdge cloudhub)."
}

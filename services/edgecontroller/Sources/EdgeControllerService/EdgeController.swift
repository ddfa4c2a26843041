import ServiceKit

public enum EdgeController: ServiceDescription {
    public static let identity = ServiceIdentity(name: "edgecontroller", side: .cloud)
    public static let abstract = "Cloud: syncs nodes, pods, configmaps and secrets with edge nodes (KubeEdge edgecontroller)."
}

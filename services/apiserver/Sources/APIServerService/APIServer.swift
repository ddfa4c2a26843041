import ServiceKit

public enum APIServer: ServiceDescription {
    public static let identity = ServiceIdentity(name: "apiserver", side: .cloud)
    public static let abstract = "Cloud: embedded Kubernetes-compatible API server on SQLite."
}

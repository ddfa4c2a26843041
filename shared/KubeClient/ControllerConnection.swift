import Logging

extension Kubeconfig {
    /// Where the embedded apiserver writes its admin kubeconfig (systemd and compose layout).
    public static let embeddedAdminPath = "/var/lib/kubeedge-swift/apiserver/admin.kubeconfig"

    /// The kubeconfig a cloud controller uses: its `--kubeconfig`, else `$KUBECONFIG`, else the embedded apiserver's.
    public static func controllerPath(explicit: String?) -> String {
        explicit ?? FileIO.environment("KUBECONFIG") ?? embeddedAdminPath
    }
}

extension KubeClient {
    /// A client for the kubeconfig at `path`, once it exists and loads: the embedded apiserver writes it on its
    /// first start, which may come after the controller's. Logs the first failure, then retries every `retry`.
    public static func waitingForKubeconfig(
        path: String, logger: Logger, retry: Duration = .seconds(1)
    ) async throws -> KubeClient {
        var warned = false
        while true {
            do {
                return try KubeClient(try Kubeconfig.load(path: path).configuration(), logger: logger)
            } catch {
                if !warned {
                    logger.warning("waiting for a usable kubeconfig", metadata: ["path": "\(path)", "error": "\(error)"])
                    warned = true
                }
                try await Task.sleep(for: retry)
            }
        }
    }
}

import ServiceKit

public enum DeviceController: ServiceDescription {
    public static let identity = ServiceIdentity(name: "devicecontroller", side: .cloud)
    public static let abstract = "Cloud: syncs Device and DeviceModel CRDs with edge twins (KubeEdge devicecontroller)."
}

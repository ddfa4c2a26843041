// swift-tools-version:6.1
// KubeEdge in Swift: one small executable per KubeEdge module, talking only over a local MQTT bus.
import PackageDescription

// Every service is a library target (its logic, importable by tests) plus a thin executable named after its
// folder. `deps` names only the shared modules the service really uses, so that each binary links no more than
// it needs (memory is a product goal: see docs/performance.md).
struct ServiceSpec {
    let folder: String      // services/<folder>, also the executable's name
    let module: String      // the library target
    let deps: [Target.Dependency]
}

// Every service's parts are ServiceLifecycle `Service`s run in ServiceKit's one ServiceGroup.
let serviceKit: [Target.Dependency] = [
    "ServiceKit", "Bus", "EdgeProtocol", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
]
// hub and cloudhub: the link's rules and certificates, and the libraries their types come from.
let link: [Target.Dependency] = serviceKit + [
    "Link", "LinkSecurity",
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
    .product(name: "Crypto", package: "swift-crypto"),
    .product(name: "X509", package: "swift-certificates"),
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOSSL", package: "swift-nio-ssl"),
]

let services: [ServiceSpec] = [
    // edge
    .init(folder: "hub", module: "HubService", deps: link + [
        "HTTPFetch",
        // hub's own websocket client (services/hub), on NIO directly.
        .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOWebSocket", package: "swift-nio"),
    ]),
    .init(folder: "meta", module: "MetaService", deps: serviceKit + [
        "Store", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "NIOCore", package: "swift-nio"),
    ]),
    .init(folder: "twin", module: "TwinService", deps: serviceKit + ["Store", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
    .init(folder: "eventbus", module: "EventBusService", deps: serviceKit + ["Store", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
    .init(folder: "servicebus", module: "ServiceBusService", deps: serviceKit + [
        "Store", "HTTPFetch", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "NIOCore", package: "swift-nio"),
    ]),
    .init(folder: "edged", module: "EdgedService", deps: serviceKit + [
        "CRIClient", "HTTPFetch", "FDStream", "SPDY", "YAMLJSON", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
    ]),
    .init(folder: "mapper-modbus", module: "MapperModbusService", deps: serviceKit + ["Mapper", "CModbus"]),
    .init(folder: "mapper-opcua", module: "MapperOPCUAService", deps: serviceKit + ["Mapper", "OPCUA", "OPCUASecurity"]),
    .init(folder: "mapper-ble", module: "MapperBLEService", deps: serviceKit + ["Mapper", "BLE"]),
    // cloud
    .init(folder: "cloudhub", module: "CloudHubService", deps: link + [
        .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
    ]),
    .init(folder: "edgecontroller", module: "EdgeControllerService", deps: serviceKit + ["KubeClient", "Store", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
    .init(folder: "devicecontroller", module: "DeviceControllerService", deps: serviceKit + ["KubeClient", "Store", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
    .init(folder: "router", module: "RouterService", deps: serviceKit + [
        "KubeClient", "HTTPFetch", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
    ]),
    // No Link: the API server needs the certificates, not the websocket stack.
    .init(folder: "apiserver", module: "APIServerService", deps: serviceKit + [
        "APIMachinery", "KubeProtobuf", "LinkSecurity", "SPDY", "Store", "CSQLite", "YAMLJSON",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Crypto", package: "swift-crypto"), .product(name: "X509", package: "swift-certificates"),
        .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdCore", package: "hummingbird"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
    ]),
]

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

var targets: [Target] = [
    // KubeEdge wire types: the beehive envelope, raw JSON, topic strings. Pure Swift, no Foundation.
    .target(name: "EdgeProtocol", path: "shared/EdgeProtocol", swiftSettings: swiftSettings),
    // libmosquitto, through pkg-config.
    .systemLibrary(
        name: "CMosquitto", path: "shared/CMosquitto", pkgConfig: "libmosquitto",
        providers: [.apt(["libmosquitto-dev"])]),
    // OpenSSL 3's libcrypto (already loaded with libmosquitto): the OPC UA mapper's RSA, AES and HMAC.
    .systemLibrary(
        name: "COpenSSL", path: "shared/COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
    // The bus client: libmosquitto behind a small Swift 6 wrapper. No Foundation.
    .target(
        name: "Bus",
        dependencies: [
            "CMosquitto", "EdgeProtocol",
            .product(name: "Logging", package: "swift-log"),
        ],
        path: "shared/Bus", swiftSettings: swiftSettings),
    // zlib (Debian's zlib1g-dev): SPDY header blocks are deflated with a preset dictionary.
    .systemLibrary(name: "CZlib", path: "shared/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
    // SPDY/3.1 framing as Kubernetes' streams use it (exec, attach, port-forward): frames, header blocks. Pure, no I/O.
    .target(name: "SPDY", dependencies: ["CZlib"], path: "shared/SPDY", swiftSettings: swiftSettings),
    // A byte stream over one file descriptor with a reader thread: the OPC UA and BLE mappers' transports.
    .target(name: "FDStream", path: "shared/FDStream", swiftSettings: swiftSettings),
    // SQLite through pkg-config, and a small Swift wrapper over it (no Foundation).
    .systemLibrary(
        name: "CSQLite", path: "shared/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
    .target(name: "Store", dependencies: ["CSQLite"], path: "shared/Store", swiftSettings: swiftSettings),
    // The cloud⇄edge link's rules, without sockets: KubeEdge routing and ACK classes, the delivery window, durable
    // queues. hub and cloudhub use it; it brings no NIO.
    .target(
        name: "Link",
        dependencies: [
            "Bus", "EdgeProtocol", "Store",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        path: "shared/Link", swiftSettings: swiftSettings),
    // One HTTP/1.1 request and its whole response over NIO (plain or TLS): hub's certificate requests, servicebus's
    // calls to edge apps, the router's calls to REST targets.
    .target(
        name: "HTTPFetch",
        dependencies: [
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ],
        path: "shared/HTTPFetch", swiftSettings: swiftSettings),
    // Certificates and TLS settings of the link and the API server: the cloud CA, join tokens, edge identities,
    // NIOSSL configurations (swift-certificates, swift-crypto, NIOSSL; no websocket stack).
    .target(
        name: "LinkSecurity",
        dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ],
        path: "shared/LinkSecurity", swiftSettings: swiftSettings),
    // libmodbus (Debian's libmodbus-dev), through pkg-config; wrapped in MapperModbusService.
    .systemLibrary(
        name: "CModbus", path: "shared/CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
    // The mapper framework shared by the Modbus, OPC-UA and BLE mappers: device specs from the bus or a YAML file,
    // one worker per device, twin/state JSON. No NIO.
    // YAML documents as JSONValue trees (Yams): device manifests, server-side apply bodies.
    .target(
        name: "YAMLJSON",
        dependencies: ["EdgeProtocol", .product(name: "Yams", package: "Yams")],
        path: "shared/YAMLJSON", swiftSettings: swiftSettings),
    .target(
        name: "Mapper",
        dependencies: [
            "Bus", "EdgeProtocol", "ServiceKit", "YAMLJSON",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ],
        path: "shared/Mapper", swiftSettings: swiftSettings),
    // libcurl (Debian's libcurl4-openssl-dev) for the Kubernetes client: typed wrappers of its variadic calls.
    .systemLibrary(
        name: "CCurl", path: "shared/CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
    // A small Kubernetes client (kubeconfig, REST verbs, watch, list+watch with resume and relist) over libcurl, for
    // the cloud controllers; works against our apiserver or any kube-apiserver. No NIO.
    .target(
        name: "KubeClient",
        dependencies: [
            "CCurl", "EdgeProtocol",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
        ],
        path: "shared/KubeClient", swiftSettings: swiftSettings),
    // The CRI v1 client edged runs pods with: code generated from cri-api's api.proto (scripts/generate-cri.sh) and a
    // small wrapper; gRPC over containerd's unix socket. Only edged links it.
    .target(
        name: "CRIClient",
        dependencies: [
            .product(name: "GRPCCore", package: "grpc-swift-2"),
            .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ],
        path: "services/edged/Sources/CRIClient", exclude: ["README.md"], swiftSettings: swiftSettings),
    // What every service shares: base flags, YAML config, logging, lifecycle, presence on the bus.
    .target(
        name: "ServiceKit",
        dependencies: [
            "Bus", "EdgeProtocol",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Yams", package: "Yams"),
        ],
        path: "shared/ServiceKit", swiftSettings: swiftSettings),
    // A small command-line bus client used by tests (a subscriber process to SIGKILL) and by people.
    .executableTarget(
        name: "kebus",
        dependencies: [
            "Bus", "EdgeProtocol",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ],
        path: "Tests/Tools/kebus", swiftSettings: swiftSettings),
    // Benchmarks: `swift run -c release bench --help`. Figures go to docs/performance.md.
    .executableTarget(
        name: "bench",
        dependencies: [
            "Bus", "EdgeProtocol", "Mapper", "MapperModbusService", "MapperOPCUAService", "OPCUA", "MapperBLEService", "BLE",
            "KubeClient", "Link",
            "LinkSecurity", "HubService",
            "HTTPFetch",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ],
        path: "Benchmarks/bench", swiftSettings: swiftSettings),
    .target(
        name: "TestSupport",
        dependencies: ["Bus", "EdgeProtocol", .product(name: "Logging", package: "swift-log"),
                       .product(name: "Yams", package: "Yams")],
        path: "Tests/TestSupport", swiftSettings: swiftSettings),
    .testTarget(
        name: "EdgeProtocolTests", dependencies: ["EdgeProtocol", "TestSupport"],
        path: "Tests/EdgeProtocolTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "BusTests",
        dependencies: ["Bus", "EdgeProtocol", "TestSupport", "kebus"],
        path: "Tests/BusTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "APIServerStorageTests",
        dependencies: ["APIServerService", "Store", "CSQLite", "EdgeProtocol"],
        path: "Tests/APIServerStorageTests", swiftSettings: swiftSettings),
    // The API server: pure rules (patches, schemas, tables) and end to end with real kubectl and the Python client.
    .testTarget(
        name: "APIServerTests",
        dependencies: [
            "APIMachinery", "APIServerService", "Bus", "EdgeProtocol", "KubeProtobuf", "SPDY", "TestSupport", "apiserver",
            "KubeClient", .product(name: "Yams", package: "Yams"),
            .product(name: "Logging", package: "swift-log"),
        ],
        path: "Tests/APIServerTests", exclude: ["Fixtures"], swiftSettings: swiftSettings),
    .testTarget(
        name: "KubeClientTests",
        dependencies: ["KubeClient", "EdgeProtocol", "TestSupport", .product(name: "Logging", package: "swift-log")],
        path: "Tests/KubeClientTests", exclude: ["kube_stub.py"], swiftSettings: swiftSettings),
    .testTarget(
        name: "CRIClientTests", dependencies: ["CRIClient", "TestSupport"],
        path: "Tests/CRIClientTests", swiftSettings: swiftSettings),
    // The pure rules of meta, edgecontroller and edged (SQLite files, no sockets).
    .testTarget(
        name: "PodRulesTests",
        dependencies: ["MetaService", "EdgeControllerService", "EdgedService", "EdgeProtocol", "KubeClient", "SPDY", "TestSupport"],
        path: "Tests/PodRulesTests", swiftSettings: swiftSettings),
    // Pods end to end: apiserver, edgecontroller, cloudhub, hub, meta, edged and a real containerd.
    .testTarget(
        name: "PodTests",
        dependencies: ["CRIClient", "TestSupport", "Link", "Bus", "EdgeProtocol", "apiserver", "cloudhub", "hub", "edgecontroller", "meta", "edged"],
        path: "Tests/PodTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "EventBusTests",
        dependencies: ["EventBusService", "Bus", "EdgeProtocol", "TestSupport", "eventbus",
                       .product(name: "Logging", package: "swift-log")],
        path: "Tests/EventBusTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "TwinServiceTests",
        dependencies: ["TwinService", "EdgeProtocol", "Store"],
        path: "Tests/TwinServiceTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "DeviceControllerTests",
        dependencies: ["DeviceControllerService", "EdgeProtocol", "TestSupport", .product(name: "Yams", package: "Yams")],
        path: "Tests/DeviceControllerTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "DeviceTests",
        dependencies: ["Bus", "EdgeProtocol", "TestSupport", "apiserver", "cloudhub", "hub", "eventbus", "meta", "twin",
                       "devicecontroller", "mapper-modbus", "mapper-opcua", "mapper-ble", .product(name: "Logging", package: "swift-log")],
        path: "Tests/DeviceTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "MapperTests",
        dependencies: ["Mapper", "Bus", "EdgeProtocol", "TestSupport", .product(name: "Logging", package: "swift-log")],
        path: "Tests/MapperTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "MapperModbusTests",
        dependencies: [
            "MapperModbusService", "Mapper", "Bus", "EdgeProtocol", "TestSupport", "mapper-modbus",
            .product(name: "Logging", package: "swift-log"),
        ],
        path: "Tests/MapperModbusTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "MapperOPCUATests",
        dependencies: [
            "OPCUA", "MapperOPCUAService", "Mapper", "Bus", "EdgeProtocol", "TestSupport", "mapper-opcua",
            .product(name: "Logging", package: "swift-log"),
        ],
        path: "Tests/MapperOPCUATests", swiftSettings: swiftSettings),
    .testTarget(
        name: "MapperBLETests",
        dependencies: [
            "BLE", "MapperBLEService", "Mapper", "Bus", "EdgeProtocol", "TestSupport", "mapper-ble",
            .product(name: "Logging", package: "swift-log"),
        ],
        path: "Tests/MapperBLETests", swiftSettings: swiftSettings),
    .testTarget(
        name: "LinkTests",
        dependencies: link + ["Store", "TestSupport", "HubService", "hub", "cloudhub"],
        path: "Tests/LinkTests", swiftSettings: swiftSettings),
    // The router and servicebus end to end, with KubeEdge's sample rules.
    .testTarget(
        name: "RouterTests",
        dependencies: ["Bus", "EdgeProtocol", "TestSupport", "RouterService", "ServiceBusService", "apiserver", "cloudhub",
                       "hub", "eventbus", "servicebus", "router", .product(name: "Logging", package: "swift-log")],
        path: "Tests/RouterTests", swiftSettings: swiftSettings),
    .testTarget(
        name: "ServiceTests",
        dependencies: ["ServiceKit", "Bus", "EdgeProtocol", "TestSupport"] + services.map { .target(name: $0.folder) },
        path: "Tests/ServiceTests", swiftSettings: swiftSettings),
]

// The apiserver's API machinery apart from its server and storage: resources and their rules (validation, defaulting,
// selectors), patches, CRD schemas and validation, table printers. Pure types over JSONValue: no NIO, no SQLite.
targets.append(.target(
    name: "APIMachinery",
    dependencies: ["EdgeProtocol", .product(name: "Logging", package: "swift-log")],
    path: "services/apiserver/Sources/APIMachinery", swiftSettings: swiftSettings))

// The OPC UA binary protocol: codecs (pure) and a client over opc.tcp with SecurityPolicy None.
targets.append(.target(
    name: "OPCUA", dependencies: ["FDStream"], path: "services/mapper-opcua/Sources/OPCUA", swiftSettings: swiftSettings))
// SecurityPolicy Basic256Sha256 for it, on OpenSSL's libcrypto, apart from the dependency-free codecs.
// The BLE mapper's host stack: HCI/L2CAP/ATT/GATT codecs (pure) and the host over an H4 transport. Foundation only.
targets.append(.target(
    name: "BLE", dependencies: ["FDStream"], path: "services/mapper-ble/Sources/BLE", swiftSettings: swiftSettings))
targets.append(.target(
    name: "OPCUASecurity",
    dependencies: ["OPCUA", "COpenSSL"],
    path: "services/mapper-opcua/Sources/OPCUASecurity", swiftSettings: swiftSettings))

// Kubernetes' protobuf encoding of the built-in types, to and from the JSON the apiserver stores (a generated schema
// table read by hand-written code; scripts/generate-kube-proto.py). Pure, no I/O.
targets.append(.target(
    name: "KubeProtobuf",
    dependencies: ["APIMachinery", "EdgeProtocol"],
    path: "services/apiserver/Sources/KubeProtobuf", swiftSettings: swiftSettings))

for service in services {
    targets.append(.target(
        name: service.module, dependencies: service.deps,
        path: "services/\(service.folder)/Sources/\(service.module)", swiftSettings: swiftSettings))
    targets.append(.executableTarget(
        name: service.folder, dependencies: [.target(name: service.module), "ServiceKit"],
        path: "services/\(service.folder)/Sources/main", swiftSettings: swiftSettings))
}

let package = Package(
    name: "kubeedge-swift",
    platforms: [.macOS(.v15)],
    products: services.map { .executable(name: $0.folder, targets: [$0.folder]) } + [
        .executable(name: "kebus", targets: ["kebus"]),
        .executable(name: "bench", targets: ["bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.3.0"),
        // traits: [] keeps full Foundation out of hummingbird (docs/performance.md).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.20.0", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        // CRI for edged.
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0", traits: []),
    ],
    targets: targets
)

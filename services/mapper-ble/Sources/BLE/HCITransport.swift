import FDStream

#if canImport(Glibc)
import Glibc
#endif

/// Where the controller is: H4 over TCP, H4 over a UART (or a pty), or a Linux HCI user channel.
public enum HCITransportSpec: Equatable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case serial(path: String, baud: Int)
    /// `hci<N>`: the kernel's HCI user channel on adapter N (exclusive; the adapter must be down and BlueZ off it).
    case userChannel(index: UInt16)

    /// `tcp:HOST:PORT`, `serial:/dev/ttyX[@baud]` (default 115200), `hci<N>`.
    public init?(_ text: String) {
        if text.hasPrefix("tcp:") {
            let rest = text.dropFirst(4)
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
                  (1...65535).contains(port) else { return nil }
            var host = String(rest[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { return nil }
            self = .tcp(host: host, port: port)
        } else if text.hasPrefix("serial:") {
            let rest = text.dropFirst(7)
            let parts = rest.split(separator: "@", maxSplits: 1)
            guard let path = parts.first, !path.isEmpty else { return nil }
            let baud = parts.count == 2 ? Int(parts[1]) : 115_200
            guard let baud, HCIStream.speed(baud) != nil else { return nil }
            self = .serial(path: String(path), baud: baud)
        } else if text.hasPrefix("hci"), let index = UInt16(text.dropFirst(3)) {
            self = .userChannel(index: index)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): "tcp:\(host):\(port)"
        case .serial(let path, let baud): "serial:\(path)@\(baud)"
        case .userChannel(let index): "hci\(index)"
        }
    }
}

/// A failure of the controller link (`link: true`: the transport or a connection is gone) or of one request.
public struct BLEError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public let isLinkFailure: Bool

    public init(_ description: String, link: Bool) {
        self.description = description
        self.isLinkFailure = link
    }
}

/// Opens the controller's file descriptor; the byte stream itself is an `FDStream`.
enum HCIStream {
    static func open(_ spec: HCITransportSpec, timeout: Duration) async throws -> FDStream {
        switch spec {
        case .tcp(let host, let port):
            do {
                return try await FDStream.connectTCP(host: host, port: port, timeout: timeout)
            } catch {
                throw BLEError("controller: \(error)", link: true)
            }
        case .serial(let path, let baud):
            let fd = Glibc.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
            guard fd >= 0 else { throw BLEError("cannot open \(path): \(String(cString: strerror(errno)))", link: true) }
            var tio = termios()
            if tcgetattr(fd, &tio) == 0 {
                cfmakeraw(&tio)
                if let speed = speed(baud) { cfsetspeed(&tio, speed) }
                tio.c_cflag |= tcflag_t(CLOCAL | CREAD)
                _ = tcsetattr(fd, TCSANOW, &tio)
            }
            return FDStream(fd: fd)
        case .userChannel(let index):
            // AF_BLUETOOTH (31), BTPROTO_HCI (1), struct sockaddr_hci { family, dev, channel = HCI_CHANNEL_USER (1) }.
            let fd = socket(31, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 1)
            guard fd >= 0 else {
                throw BLEError("cannot open an HCI socket for hci\(index): \(String(cString: strerror(errno))) (no kernel Bluetooth?)", link: true)
            }
            var address: [UInt16] = [31, index, 1]
            let bound = address.withUnsafeMutableBytes { raw in
                raw.baseAddress!.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 6) }
            }
            guard bound == 0 else {
                let reason = String(cString: strerror(errno))
                Glibc.close(fd)
                throw BLEError("cannot bind the user channel of hci\(index): \(reason) (is the adapter down and not used by bluetoothd?)", link: true)
            }
            return FDStream(fd: fd)
        }
    }

    static func speed(_ baud: Int) -> speed_t? {
        let table: [Int: speed_t] = [
            9600: speed_t(B9600), 19200: speed_t(B19200), 38400: speed_t(B38400), 57600: speed_t(B57600),
            115_200: speed_t(B115200), 230_400: speed_t(B230400), 460_800: speed_t(B460800),
            921_600: speed_t(B921600), 1_000_000: speed_t(B1000000), 1_500_000: speed_t(B1500000),
            2_000_000: speed_t(B2000000), 3_000_000: speed_t(B3000000), 4_000_000: speed_t(B4000000),
        ]
        return table[baud]
    }
}

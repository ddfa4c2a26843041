/// Where ATT requests go: a connection, or a table in a test.
public protocol ATTBearer: Sendable {
    /// Sends a request and returns the answer; an Error Response is returned, a broken link thrown.
    func request(_ request: ATTRequest) async throws -> ATTServerPDU
    /// Sends a PDU that gets no answer (Write Command).
    func send(_ request: ATTRequest) throws
}

/// What a peripheral offers, as discovery finds it.
public struct GATTDatabase: Equatable, Sendable {
    public var services: [GATTService]
    public var characteristics: [GATTCharacteristic]

    public init(services: [GATTService] = [], characteristics: [GATTCharacteristic] = []) {
        self.services = services
        self.characteristics = characteristics
    }

    public func characteristic(_ uuid: BLEUUID) -> GATTCharacteristic? {
        characteristics.first { $0.uuid == uuid }
    }
}

/// The GATT client procedures (Core v5.4 Vol 3 Part G §4) over any ATT bearer.
public struct GATTClient: Sendable {
    public let bearer: any ATTBearer
    /// The ATT MTU in use (23 until exchanged).
    public private(set) var mtu: UInt16 = 23

    public init(bearer: any ATTBearer) {
        self.bearer = bearer
    }

    /// Exchange MTU; a server that does not support it keeps 23.
    public mutating func exchangeMTU(_ clientMTU: UInt16) async throws {
        switch try await bearer.request(.exchangeMTU(clientMTU: clientMTU)) {
        case .exchangeMTU(let serverMTU):
            mtu = max(23, min(clientMTU, serverMTU))
        case .error:
            mtu = 23
        default:
            throw BLEError("unexpected answer to Exchange MTU", link: false)
        }
    }

    /// Every primary service, then every characteristic with its end and CCCD.
    public func discover() async throws -> GATTDatabase {
        var database = GATTDatabase()
        var start: UInt16 = 1
        discovery: while true {
            let answer = try await bearer.request(.readByGroupType(start: start, end: 0xffff, type: .primaryService))
            switch answer {
            case .readByGroupType(let items):
                for item in items {
                    guard let uuid = BLEUUID(littleEndian: item.value), item.end >= item.handle, item.handle >= start else {
                        throw BLEError("malformed primary service at handle \(item.handle)", link: false)
                    }
                    database.services.append(GATTService(uuid: uuid, start: item.handle, end: item.end))
                }
                guard let last = items.last?.end, last < 0xffff else { break discovery }
                start = last + 1
            case .error(_, _, 0x0a):
                break discovery
            case .error(_, _, let code):
                throw BLEError("service discovery refused: \(ATTOpcode.errorName(code))", link: false)
            default:
                throw BLEError("unexpected answer to Read By Group Type", link: false)
            }
        }
        for service in database.services {
            var found: [GATTCharacteristic] = []
            var from = service.start
            characteristics: while from <= service.end {
                let answer = try await bearer.request(.readByType(start: from, end: service.end, type: .characteristic))
                switch answer {
                case .readByType(let items):
                    for item in items {
                        var characteristic = try GATTCharacteristic.declaration(handle: item.handle, value: item.value)
                        guard item.handle >= from, characteristic.valueHandle <= service.end else {
                            throw BLEError("characteristic at handle \(item.handle) lies outside its service", link: false)
                        }
                        characteristic.end = service.end
                        found.append(characteristic)
                    }
                    guard let last = items.last?.handle, last < service.end else { break characteristics }
                    from = last + 1
                case .error(_, _, 0x0a):
                    break characteristics
                case .error(_, _, let code):
                    throw BLEError("characteristic discovery refused: \(ATTOpcode.errorName(code))", link: false)
                default:
                    throw BLEError("unexpected answer to Read By Type", link: false)
                }
            }
            for index in found.indices.dropLast() { found[index].end = found[index + 1].declaration - 1 }
            for index in found.indices where (found[index].canNotify || found[index].canIndicate)
                && found[index].valueHandle < found[index].end {
                found[index].cccd = try await findCCCD(after: found[index].valueHandle, through: found[index].end)
            }
            database.characteristics += found
        }
        return database
    }

    private func findCCCD(after valueHandle: UInt16, through end: UInt16) async throws -> UInt16? {
        var from = valueHandle + 1
        while from <= end {
            switch try await bearer.request(.findInformation(start: from, end: end)) {
            case .findInformation(let items):
                if let cccd = items.first(where: { $0.type == .clientCharacteristicConfiguration }) { return cccd.handle }
                guard let last = items.last?.handle, last < end, last >= from else { return nil }
                from = last + 1
            case .error:
                return nil
            default:
                throw BLEError("unexpected answer to Find Information", link: false)
            }
        }
        return nil
    }

    /// A characteristic's whole value (Read, then Read Blob while the value fills the MTU).
    public func read(_ handle: UInt16) async throws -> [UInt8] {
        var value: [UInt8]
        switch try await bearer.request(.read(handle: handle)) {
        case .read(let first): value = first
        case .error(_, _, let code): throw BLEError(ATTOpcode.errorName(code), link: false)
        default: throw BLEError("unexpected answer to Read", link: false)
        }
        var part = value.count
        while part == Int(mtu) - 1, value.count < 512 {
            switch try await bearer.request(.readBlob(handle: handle, offset: UInt16(value.count))) {
            case .readBlob(let more):
                value += more
                part = more.count
            case .error(_, _, 0x0b), .error(_, _, 0x07):
                return value  // not long after all, or exactly at its end
            case .error(_, _, let code):
                throw BLEError(ATTOpcode.errorName(code), link: false)
            default:
                throw BLEError("unexpected answer to Read Blob", link: false)
            }
        }
        return value
    }

    /// Write Request (answered), or Write Command when `withResponse` is false.
    public func write(_ handle: UInt16, _ value: [UInt8], withResponse: Bool = true) async throws {
        guard value.count <= Int(mtu) - 3 else {
            throw BLEError("value of \(value.count) bytes is longer than the ATT MTU allows (\(Int(mtu) - 3))", link: false)
        }
        guard withResponse else {
            try bearer.send(.writeCommand(handle: handle, value: value))
            return
        }
        switch try await bearer.request(.write(handle: handle, value: value)) {
        case .write: return
        case .error(_, _, let code): throw BLEError(ATTOpcode.errorName(code), link: false)
        default: throw BLEError("unexpected answer to Write", link: false)
        }
    }

    /// Turns notifications (or indications) of a characteristic on through its CCCD.
    public func subscribe(_ characteristic: GATTCharacteristic) async throws {
        guard let cccd = characteristic.cccd else {
            throw BLEError("characteristic \(characteristic.uuid) has no Client Characteristic Configuration", link: false)
        }
        let bits: [UInt8] = characteristic.canNotify ? [0x01, 0x00] : [0x02, 0x00]
        try await write(cccd, bits)
    }
}

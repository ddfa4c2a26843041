import Bus
import Foundation
import Logging
import Synchronization
import TestSupport

extension BusClient {
    static func forTest(_ broker: Broker, _ clientID: String) throws -> BusClient {
        try BusClient(BusConfiguration(endpoint: try BusEndpoint(parsing: broker.address), clientID: clientID),
                      logger: Logger(label: clientID))
    }

    func connectAndSubscribe(_ filters: [String]) async throws {
        try start()
        try await waitUntilConnected()
        try await subscribe(filters)
    }
}

/// Where a sequence that should be 0, 1, 2, ... first goes wrong (index, value), or nil when it is exactly that.
func firstDisorder(_ values: [Int]) -> (index: Int, value: Int)? {
    for (index, value) in values.enumerated() where value != index { return (index, value) }
    return nil
}

import ArgumentParser

/// Names a service and says in one line what it is (its `--help` abstract).
public protocol ServiceDescription {
    static var identity: ServiceIdentity { get }
    static var abstract: String { get }
}

/// The command of a service that is not built yet: it starts, joins the bus, reports itself `online` on
/// `ke/status/<service>`, and exits cleanly on SIGTERM. Its `--help` says so.
public struct PlaceholderCommand<Description: ServiceDescription>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: Description.identity.name,
            abstract: Description.abstract,
            discussion: """
                Not built yet: this \(Description.identity.side.rawValue) service only starts, joins the bus, \
                reports itself online on ke/status/\(Description.identity.name) and exits cleanly on SIGTERM.
                """)
    }

    @OptionGroup public var options: BaseOptions

    public init() {}

    public func run() async throws {
        try await ServiceRunner.run(Description.identity, options: options) { _ in
            await ServiceRunner.untilShutdown()
        }
    }
}

extension AsyncParsableCommand {
    /// Parses the process arguments and runs the command, exiting with ArgumentParser's usual messages and codes.
    /// (For executables whose root command is generic and so cannot carry `@main`.)
    public static func runAsRoot() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

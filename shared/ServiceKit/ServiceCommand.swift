import ArgumentParser
import Foundation

/// Names a service and says in one line what it is (its `--help` abstract).
public protocol ServiceDescription {
    static var identity: ServiceIdentity { get }
    static var abstract: String { get }
}

extension AsyncParsableCommand {
    /// Parses the process arguments, with the `--config` file's settings in front of them (`ConfigFlags`), and runs the
    /// command, exiting with ArgumentParser's usual messages and codes. (For executables whose root command is
    /// generic and so cannot carry `@main`.)
    public static func runAsRoot() async {
        do {
            var command = try parseAsRoot(try argumentsWithConfigFile(Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    /// `arguments` preceded by what the `--config` file sets and they do not; a key that is no flag of this command
    /// is an error naming the key.
    public static func argumentsWithConfigFile(_ arguments: [String]) throws -> [String] {
        guard let path = ConfigFlags.configPath(in: arguments), !arguments.contains("--help"), !arguments.contains("-h")
        else { return arguments }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError("cannot read config file \(path): \(error.localizedDescription)")
        }
        let service = configuration.commandName ?? ""
        let settings = try ConfigFlags.settings(fromYAML: text, path: path, service: service)
        // Each key on its own, so that an unknown or bad one is named.
        for setting in settings where !setting.arguments.isEmpty {
            do {
                _ = try parseAsRoot(setting.arguments)
            } catch {
                let message = Self.message(for: error)
                let place = setting.section.map { "key '\(setting.key)' of section '\($0)'" } ?? "key '\(setting.key)'"
                if message.contains("Unknown option") {
                    throw ConfigError("config file \(path): unknown \(place) (\(service) has no \(setting.flag) option)")
                }
                throw ConfigError("config file \(path): \(place): \(message)")
            }
        }
        return ConfigFlags.fileArguments(settings, overriddenBy: arguments) + arguments
    }
}

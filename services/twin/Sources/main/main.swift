import ServiceKit
import TwinService

await TwinCommand.runAsRoot()

import RouterService
import ServiceKit

await RouterCommand.runAsRoot()

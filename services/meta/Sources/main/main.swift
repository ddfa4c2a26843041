import MetaService
import ServiceKit

await MetaCommand.runAsRoot()

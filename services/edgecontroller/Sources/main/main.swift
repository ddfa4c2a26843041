import EdgeControllerService
import ServiceKit

await EdgeControllerCommand.runAsRoot()

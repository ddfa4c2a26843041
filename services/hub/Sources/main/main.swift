import HubService
import ServiceKit

await HubCommand.runAsRoot()

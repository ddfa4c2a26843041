import CloudHubService
import ServiceKit

await CloudHubCommand.runAsRoot()

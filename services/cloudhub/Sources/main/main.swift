import CloudHubService
import ServiceKit

await PlaceholderCommand<CloudHub>.runAsRoot()

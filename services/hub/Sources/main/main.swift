import HubService
import ServiceKit

await PlaceholderCommand<Hub>.runAsRoot()

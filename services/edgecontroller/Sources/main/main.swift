import EdgeControllerService
import ServiceKit

await PlaceholderCommand<EdgeController>.runAsRoot()

import APIServerService
import ServiceKit

await PlaceholderCommand<APIServer>.runAsRoot()

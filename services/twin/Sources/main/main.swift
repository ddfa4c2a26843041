import TwinService
import ServiceKit

await PlaceholderCommand<Twin>.runAsRoot()

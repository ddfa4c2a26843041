import EdgedService
import ServiceKit

await PlaceholderCommand<Edged>.runAsRoot()

import MetaService
import ServiceKit

await PlaceholderCommand<Meta>.runAsRoot()

import ServiceBusService
import ServiceKit

await PlaceholderCommand<ServiceBus>.runAsRoot()

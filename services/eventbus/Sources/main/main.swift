import EventBusService
import ServiceKit

await PlaceholderCommand<EventBus>.runAsRoot()

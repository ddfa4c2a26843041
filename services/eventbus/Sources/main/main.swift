import EventBusService
import ServiceKit

await EventBusCommand.runAsRoot()

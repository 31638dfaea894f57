/**
 * SSH key pairs for tests, from ssh2's generator, made again when ssh2 cannot read what it made: about one
 * ed25519 key in 230 comes out with a 31-byte public key (a leading zero byte dropped), which ssh2's own
 * parser refuses ("Malformed OpenSSH private key") and sshd would too. Seen as rare failures of the transport
 * tests (a server that would not start, a client key refused before it was offered).
 */
import { utils } from 'ssh2';

export interface TestKeyPair {
  private: string;
  public: string;
}

export function sshKeyPair(type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): TestKeyPair {
  for (let i = 0; i < 10; i++) {
    const kp = type === 'rsa' ? utils.generateKeyPairSync('rsa', { bits: 2048 }) : type === 'ecdsa' ? utils.generateKeyPairSync('ecdsa', { bits: 256 }) : utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(kp.private) instanceof Error) && !(utils.parseKey(kp.public) instanceof Error)) return kp;
  }
  throw new Error(`ssh2 made 10 ${type} keys in a row that it cannot read`);
}

/**
 * Questions to one etcd member, asked on the member itself in one shell command: one curl process for all of
 * them when the host has curl, etcdctl otherwise.
 *
 * curl asks etcd's HTTP API on the client port: the JSON gateway in front of the v3 gRPC API
 * (https://etcd.io/docs/v3.5/dev-guide/api_grpc_gateway/: POST /v3/kv/range, /v3/kv/put, /v3/kv/deleterange,
 * /v3/cluster/member/list; keys and values base64 in JSON), served on the client URL since etcd 3.4 (and on by
 * default: --enable-grpc-gateway). The requests of one invocation (`--next`) share one TLS connection. That is
 * the point: an etcdctl run costs a member ~20 ms of CPU (a Go binary starting, a TLS handshake, a gRPC dial),
 * and one curl with six requests costs about as much as one etcdctl, on machines whose CPUs the checks of every
 * member share.
 *
 * etcdctl (a host without curl) answers the same questions one run each, with `-w json`: the same response
 * messages, printed by Go's encoding/json (etcdctl/ctlv3/command/printer_json.go), so one parser reads both
 * (IDs come as numbers there, as strings from the gateway: parseMemberList reads both).
 */
import { shellQuote } from '../../ssh/quote.js';
import { BIN_DIR, ETCD_PKI } from './paths.js';

export type EtcdCall =
  /** A linearizable read (the default for a range): answered only by a member of a cluster with quorum. */
  | { id: string; op: 'range'; key: string }
  | { id: string; op: 'put'; key: string; value: string }
  | { id: string; op: 'delete'; key: string }
  | { id: string; op: 'members' }
  /** A TLS handshake without a client certificate, which a member with client-certificate auth refuses. */
  | { id: string; op: 'no-cert' };

export interface EtcdAnswer {
  /** curl's exit code for this request (curl(1) EXIT CODES), or etcdctl's exit status. */
  exit: number;
  /** The HTTP status (0 when there was no response); null from etcdctl. */
  http: number | null;
  /** The response body, or what curl or etcdctl printed about the failure. */
  text: string;
}

const MARK = '@@kcore-etcd';
const FRAME = new RegExp(`^${MARK} (\\S+) (\\d+) (\\d+|-)$`);
const STATE = 'kcore-etcd-service-state=';
const CLIENT_CERT = `--cert ${ETCD_PKI}/kcore-client.crt --key ${ETCD_PKI}/kcore-client.key`;
/** curl's TLS options for a member's client port with kcore-wizard's client certificate. */
export const CURL_CLIENT_TLS = `--cacert ${ETCD_PKI}/ca.crt ${CLIENT_CERT}`;

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const url = (ip: string, p: string) => `https://${ip}:2379${p}`;

/** One request of the curl command line, its result framed on a line of its own after the body (`-w`). */
function curlRequest(ip: string, c: EtcdCall): string {
  // --stderr -: curl's own error line lands in front of the frame, so each request keeps its message.
  const common = `-sS --stderr - --cacert ${ETCD_PKI}/ca.crt -w '\\n${MARK} ${c.id} %{exitcode} %{http_code}\\n'`;
  const post = (p: string, body: object) => `${common} ${CLIENT_CERT} --connect-timeout 3 --max-time 5 -d ${shellQuote(JSON.stringify(body))} ${url(ip, p)}`;
  switch (c.op) {
    // TLS 1.2 at most: in 1.3 the client's side of the handshake is done before the server checks the certificate,
    // and the alert races curl's request write (exit 55, broken pipe, seen on etcd 3.4); in 1.2 the alert replaces
    // the server's Finished, so curl always reports it from the handshake (exit 35). No --cert: a new connection.
    case 'no-cert':
      return `${common} --tls-max 1.2 --connect-timeout 2 --max-time 4 ${url(ip, '/version')}`;
    case 'range':
      return post('/v3/kv/range', { key: b64(c.key) });
    case 'put':
      return post('/v3/kv/put', { key: b64(c.key), value: b64(c.value) });
    case 'delete':
      return post('/v3/kv/deleterange', { key: b64(c.key) });
    case 'members':
      return post('/v3/cluster/member/list', {});
  }
}

/**
 * etcdctl on the host, over TLS with kcore-wizard's client certificate (or none, to prove refusal).
 * `quick` shortens the timeouts for polls (the dashboard) where a down member must not stall the answer.
 */
export function etcdctl(ip: string, args: string, opts: { withCert?: boolean; quick?: boolean } = {}): string {
  // Without a certificate the handshake is refused at once: a short timeout keeps that check quick.
  const quick = opts.quick || opts.withCert === false;
  const timeouts = quick ? '--dial-timeout=1s --command-timeout=2s' : '--dial-timeout=3s --command-timeout=5s';
  const cert = opts.withCert === false ? '' : ` --cert=${ETCD_PKI}/kcore-client.crt --key=${ETCD_PKI}/kcore-client.key`;
  return `ETCDCTL_API=3 ${BIN_DIR}/etcdctl --endpoints=${url(ip, '')} --cacert=${ETCD_PKI}/ca.crt${cert} ${timeouts} ${args}`;
}

/** The same request through etcdctl (a host without curl). */
function etcdctlRequest(ip: string, c: EtcdCall): string {
  const ctl = (args: string) => etcdctl(ip, args);
  switch (c.op) {
    // etcdctl reports a closed port and a refused handshake alike (its gRPC dial retries until the timeout): bash's
    // /dev/tcp tells the closed port first, at once.
    case 'no-cert':
      return `timeout 2 bash -c ': </dev/tcp/${ip}/2379' 2>/dev/null || { echo 'connection refused'; exit 7; }; ${etcdctl(ip, 'get /kcore-wizard --keys-only', { withCert: false })}`;
    case 'range':
      return ctl(`get ${shellQuote(c.key)} -w json`);
    case 'put':
      return ctl(`put ${shellQuote(c.key)} ${shellQuote(c.value)} -w json`);
    case 'delete':
      return ctl(`del ${shellQuote(c.key)} -w json`);
    case 'members':
      return ctl('member list -w json');
  }
}

/**
 * The shell command that asks `calls` of the member at `ip`, in order; its first line names the tool (curl or
 * etcdctl). With `stateUnlessOk`, a call whose failure is worth the service state beside it: `systemctl
 * is-active etcd` runs only when that call failed.
 */
export function etcdApiScript(ip: string, calls: EtcdCall[], opts: { stateUnlessOk?: string } = {}): string {
  const curl = `curl ${calls.map((c) => curlRequest(ip, c)).join(' --next ')}`;
  const ctl = calls.map((c) => `kc_o=$( ( ${etcdctlRequest(ip, c)} ) 2>&1 ); printf '%s\\n${MARK} ${c.id} %s -\\n' "$kc_o" "$?"`).join('; ');
  const ask = `if command -v curl >/dev/null 2>&1; then echo curl; ${curl}; else echo etcdctl; ${ctl}; fi`;
  if (!opts.stateUnlessOk) return ask;
  const id = opts.stateUnlessOk;
  return `kc_a=$(${ask}); printf '%s\\n' "$kc_a"; case "$kc_a" in *"${MARK} ${id} 0 200"*|*"${MARK} ${id} 0 -"*) ;; *) echo "${STATE}$(systemctl is-active etcd 2>/dev/null)";; esac`;
}

/**
 * The requests of `calls` as a person would type them (the teaching view): one curl line each, without the
 * framing, then what runs instead on a host without curl.
 */
export function etcdApiShown(ip: string, calls: EtcdCall[]): string {
  const clean = (r: string) => r.replace(/ -w '[^']*'/, '').replace(' --stderr -', '');
  return [
    ...calls.map((c) => `curl ${clean(curlRequest(ip, c))}`),
    `# without curl on the host: ${calls.map((c) => etcdctlRequest(ip, c)).join(' ; ')}`,
  ].join('\n');
}

export interface EtcdAnswers {
  tool: string;
  answers: Map<string, EtcdAnswer>;
  /** What `systemctl is-active etcd` said, when the script asked it. */
  state?: string;
}

/** What etcdApiScript printed, call by call (pure). A call missing from the map did not finish. */
export function parseEtcdAnswers(stdout: string): EtcdAnswers {
  const lines = stdout.split('\n');
  const tool = lines.shift() ?? '';
  const answers = new Map<string, EtcdAnswer>();
  let state: string | undefined;
  let body: string[] = [];
  for (const line of lines) {
    const m = FRAME.exec(line);
    if (m) {
      answers.set(m[1]!, { exit: Number(m[2]), http: m[3] === '-' ? null : Number(m[3]), text: body.join('\n').trim() });
      body = [];
    } else if (line.startsWith(STATE)) state = line.slice(STATE.length).trim() || 'unknown';
    else body.push(line);
  }
  return { tool, answers, state };
}

const lastLine = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';

/** null when the call succeeded, else what went wrong, in one line: curl's or etcdctl's error, or etcd's own message. */
export function callProblem(a: EtcdAnswer | undefined): string | null {
  if (!a) return 'no answer: the check stopped before this request';
  if (a.exit !== 0) return lastLine(a.text) || `exit ${a.exit}`;
  if (a.http !== null && a.http !== 200) {
    let message = lastLine(a.text) || '(no body)';
    try {
      const j = JSON.parse(a.text) as { message?: string; error?: string };
      message = j.message ?? j.error ?? message;
    } catch {
      // not the gateway's JSON error: the body as it is
    }
    return `HTTP ${a.http}: ${message}`;
  }
  return null;
}

/**
 * The response message of a successful call: the line that starts with its header (etcdctl's client may log
 * JSON lines of its own on stderr, which the fallback keeps beside stdout).
 */
export function responseJson(a: EtcdAnswer): string {
  return a.text.split('\n').find((l) => l.startsWith('{"header"')) ?? a.text;
}

/** The value a successful range read returned for its first key (null: no such key). */
export function rangeValue(a: EtcdAnswer): string | null {
  const kv = (JSON.parse(responseJson(a)) as { kvs?: Array<{ value?: string }> }).kvs?.[0];
  return kv ? Buffer.from(kv.value ?? '', 'base64').toString('utf8') : null;
}

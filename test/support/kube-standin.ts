/**
 * Stand-ins for what cannot run on our machines (no Kubernetes binaries here), used by the Kubernetes
 * upgrade and remove-node tests. Everything else in those tests is real: the engine, SSH, sudo,
 * systemd units and their handlers on systemd-nspawn machines.
 *
 * - `KUBECTL_STANDIN`: a shell script installed as /opt/bin/kubectl on the masters. It plays the API
 *   server: it records every call (time in ns, host, argv) in /var/lib/kstandin/calls.log and answers
 *   from state files: /readyz is "ok" unless /var/lib/kstandin/down-<ip> exists (that master's API
 *   server is down); a Node exists unless deleted/<name>, is unschedulable after cordon (or drain) until
 *   uncordon, Ready unless notready/<name>; drain fails when drainfail/<name> exists.
 * - `standinNodeRole`: the node step (what kube-master + kube-worker do on a host in an upgrade: new
 *   binaries, restart through a handler, healthy) as a real role: a version file and a systemd unit
 *   `kstandin-kubelet` restarted when it changes, which fails to start while /etc/kstandin-fail exists,
 *   and logs each start to /var/log/kstandin.log with the version it starts.
 */
import { filesTask, serviceTask, waitFor } from '../../src/engine/ops.js';
import { TaskFailure, type Role, type TaskContext } from '../../src/engine/task.js';

/** The script for `host` (its name is in every line it logs). */
export const kubectlStandin = (host: string) => KUBECTL_STANDIN.replaceAll('@HOST@', host);
const KUBECTL_STANDIN = String.raw`#!/bin/sh
S=/var/lib/kstandin
mkdir -p $S/cordoned $S/notready $S/deleted $S/drainfail
server=
args=
for a in "$@"; do
  case "$a" in
    --server=*) server=$(echo "$a" | cut -d= -f2-) ;;
    --kubeconfig=*|--request-timeout=*) ;;
    *) args="$args $a" ;;
  esac
done
echo "$(date +%s%N) @HOST@ kubectl$args server=$server" >> $S/calls.log
set -- $args
ip=$(echo "$server" | sed -E 's#https://([^:]+):.*#\1#')
case "$1 $2" in
  "get --raw")
    if [ -e "$S/down-$ip" ]; then echo "The connection to the server $ip:6443 was refused" >&2; exit 1; fi
    echo ok ;;
  "get node")
    n=$3
    [ -e $S/deleted/$n ] && exit 0
    u=false; [ -e $S/cordoned/$n ] && u=true
    r=True; [ -e $S/notready/$n ] && r=False
    printf '{"metadata":{"name":"%s"},"spec":{"unschedulable":%s},"status":{"conditions":[{"type":"Ready","status":"%s","reason":"KubeletReady"}]}}\n' $n $u $r ;;
  cordon*) touch $S/cordoned/$2; echo "node/$2 cordoned" ;;
  uncordon*) rm -f $S/cordoned/$2; echo "node/$2 uncordoned" ;;
  drain*)
    touch $S/cordoned/$2
    if [ -e $S/drainfail/$2 ]; then echo "error: unable to drain node \"$2\" due to error: cannot delete Pods that declare no controller (use --force to override): default/lonely" >&2; exit 1; fi
    echo "node/$2 drained" ;;
  "delete node") touch $S/deleted/$3; echo "node \"$3\" deleted" ;;
  *) echo "kubectl stand-in: unknown call: $args" >&2; exit 1 ;;
esac
`;

const unit = (host: string) => `[Unit]
Description=kubelet stand-in (test)
[Service]
ExecStartPre=/bin/sh -c 'test ! -e /etc/kstandin-fail'
ExecStart=/bin/sh -c 'echo "$$(date +%%s%%N) ${host} kubelet-start $$(cat /opt/kstandin/version)" >> /var/log/kstandin.log; exec sleep infinity'
[Install]
WantedBy=multi-user.target
`;

const RESTART = 'restart kstandin-kubelet';

export const standinNodeRole: Role = {
  name: 'kube-node-standin',
  hosts: (run) => [...run.hostsOf('kube-master'), ...run.hostsOf('kube-worker')],
  tasks: [
    filesTask('binaries and unit (stand-in)', (ctx) => [
      { path: '/opt/kstandin/version', content: `${ctx.run.spec.versions.kubernetes}\n`, mode: 0o644, notify: RESTART },
      { path: '/etc/systemd/system/kstandin-kubelet.service', content: unit(ctx.host.name), mode: 0o644, notify: [RESTART, 'daemon-reload'] },
    ]),
    serviceTask('kstandin-kubelet', {
      restartHandler: RESTART,
      wait: (ctx: TaskContext) =>
        waitFor(
          'kstandin-kubelet active',
          async () => {
            const s = (await ctx.conn.exec('sleep 0.3; systemctl is-active kstandin-kubelet; true', { signal: ctx.signal })).stdout.trim();
            return s === 'active' ? null : `kstandin-kubelet is ${s} on ${ctx.host.name}`;
          },
          { timeoutMs: 4000, intervalMs: 500, signal: ctx.signal },
        ).catch((e: unknown) => {
          throw e instanceof TaskFailure ? e : new TaskFailure((e as Error).message);
        }),
    }),
  ],
};

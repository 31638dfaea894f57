/** Where etcd lives on a member: shared by the role, its membership tasks, its API checks and backup (no import cycle). */
export const BIN_DIR = '/opt/bin';
export const ETCD_PKI = '/etc/etcd/pki';
export const ETCD_DATA = '/var/lib/etcd';
export const UNIT = '/etc/systemd/system/etcd.service';
export const DROPIN = '/etc/systemd/system/etcd.service.d/10-kcore.conf';

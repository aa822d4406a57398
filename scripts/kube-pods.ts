import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

/**
 * `node dist/scripts/kube-pods.js <manifest dir> <out.yaml> <image tag> <subnet> <etcd binary>`
 *
 * Turns deploy/kubernetes/ into what `podman kube play` supports (Pods and
 * PersistentVolumeClaims), keeping each pod's containers, environment, probes, commands and
 * volumes as written: every StatefulSet replica becomes a Pod named as Kubernetes names it
 * (`petrel-proxy-0`) with its own claim; Service names become host aliases of fixed addresses
 * on `<subnet>.0/24` (printed, one per line, in the order of the Pods, for `--ip`); the Secret's
 * values are filled in; containers' port lists are left out (podman would publish them on
 * the host; probes name numbers instead); images are the locally built `petrel-*:<tag>`, and etcd's image is the
 * local base image with the host's etcd binary mounted in (nothing is pulled).
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

const [dir, out, tag, subnet, etcdBin] = process.argv.slice(2);
if (!dir || !out || !tag || !subnet || !etcdBin) {
  process.stderr.write('usage: kube-pods <dir> <out.yaml> <tag> <subnet a.b.c> <etcd binary>\n');
  process.exit(2);
}

const docs: Doc[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .sort()
  .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJSON()));

const secrets = new Map<string, Record<string, string>>(
  docs.filter((d) => d.kind === 'Secret').map((d) => [d.metadata.name, d.stringData ?? {}]),
);
const sets = docs.filter((d) => d.kind === 'StatefulSet');

// every replica's address, and the names it is reached by
const pods: Array<{ set: Doc; name: string; ip: string }> = [];
for (const set of sets) {
  for (let i = 0; i < set.spec.replicas; i++) {
    pods.push({ set, name: `${set.metadata.name}-${i}`, ip: `${subnet}.${10 + pods.length}` });
  }
}
const aliases = pods.map(({ set, name, ip }) => {
  const names = [name, `${name}.${set.spec.serviceName}`];
  // a Service in front of the first replica of each set (etcd's client Service)
  if (name.endsWith('-0')) names.push(set.spec.serviceName);
  return { ip, hostnames: names };
});

function image(container: Doc, volumes: Doc[], mounts: Doc[]): string {
  const name = String(container.image);
  if (name.startsWith('petrel-proxy:')) return `localhost/petrel-proxy:${tag}`;
  if (name.startsWith('petrel-node:')) return `localhost/petrel-node:${tag}`;
  if (name.includes('etcd')) {
    volumes.push({ name: 'etcd-binary', hostPath: { path: etcdBin, type: 'File' } });
    mounts.push({ name: 'etcd-binary', mountPath: '/usr/local/bin/etcd', readOnly: true });
    return 'localhost/node:20-slim';
  }
  throw new Error(`no local image for ${name}`);
}

/** The environment with what podman does not resolve filled in as Kubernetes would. */
function env(list: Doc[] | undefined, pod: string): Doc[] | undefined {
  const seen: Record<string, string> = {};
  return list?.flatMap((e) => {
    const from = e.valueFrom;
    let value: string | undefined;
    if (from?.fieldRef?.fieldPath === 'metadata.name') value = pod;
    else if (from?.secretKeyRef) {
      value = secrets.get(from.secretKeyRef.name)?.[from.secretKeyRef.key];
      // an optional key the Secret lacks leaves the variable unset, as Kubernetes does
      if (value === undefined && from.secretKeyRef.optional === true) return [];
      if (value === undefined) throw new Error(`no secret for ${e.name}`);
    } else value = String(e.value ?? '');
    // $(NAME) refers to a variable defined earlier in the list
    value = value.replace(/\$\((\w+)\)/g, (all, v: string) => seen[v] ?? all);
    seen[e.name] = value;
    return [{ name: e.name, value }];
  });
}

/** Probes on a named port, given by its number (a form every runtime reads). */
function numberPorts(c: Doc): void {
  const ports = new Map<string, number>(
    (c.ports ?? []).map((p: Doc) => [p.name as string, p.containerPort as number]),
  );
  for (const probe of [c.readinessProbe, c.livenessProbe]) {
    const get = probe?.httpGet;
    if (get && typeof get.port === 'string') get.port = ports.get(get.port) ?? get.port;
  }
}

const output: Doc[] = [];
for (const { set, name } of pods) {
  const spec = structuredClone(set.spec.template.spec) as Doc;
  const volumes: Doc[] = [...(spec.volumes ?? [])];
  for (const claim of set.spec.volumeClaimTemplates ?? []) {
    const claimName = `${claim.metadata.name}-${name}`;
    output.push({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: claimName },
      spec: claim.spec,
    });
    volumes.push({ name: claim.metadata.name, persistentVolumeClaim: { claimName } });
  }
  for (const c of spec.containers as Doc[]) {
    c.volumeMounts = [...(c.volumeMounts ?? [])];
    c.image = image(c, volumes, c.volumeMounts);
    c.env = env(c.env, name);
    numberPorts(c);
    // podman 4.3 publishes every containerPort on the host; pods reach each other by address
    delete c.ports;
  }
  output.push({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: set.spec.template.metadata.labels },
    spec: { ...spec, hostname: name, hostAliases: aliases, volumes },
  });
}
writeFileSync(out, output.map((d) => stringify(d)).join('---\n'));
for (const p of pods) process.stdout.write(`${p.name} ${p.ip}\n`);

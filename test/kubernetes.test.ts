import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { loadNodeConfig, loadProxyConfig } from '../shared/config.js';

/**
 * deploy/kubernetes/ against the Kubernetes API schemas (the kubernetes-models package: types,
 * enums, required fields and formats of each kind), then against what Petrel needs of them:
 * its own config loader accepts every container's environment, the probes, the volumes, the
 * Secret, the drain and the disruption budgets line up.
 */
const dir = fileURLToPath(new URL('../deploy/kubernetes', import.meta.url));

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

/** The schema of each kind used, by apiVersion/kind. */
const MODELS: Record<string, string> = {
  'v1/Secret': 'kubernetes-models/v1/Secret',
  'v1/Service': 'kubernetes-models/v1/Service',
  'apps/v1/StatefulSet': 'kubernetes-models/apps/v1/StatefulSet',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/policy/v1/PodDisruptionBudget',
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

async function modelOf(doc: Doc): Promise<ModelClass> {
  const path = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!path) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  const mod = (await import(path)) as Record<string, ModelClass>;
  return mod[doc.kind as string] as ModelClass;
}

const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const docs: Array<{ file: string; doc: Doc }> = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => ({
    file,
    doc: d.toJSON() as Doc,
  })),
);
const find = (kind: string, name: string): Doc => {
  const d = docs.find((x) => x.doc.kind === kind && x.doc.metadata?.name === name)?.doc;
  if (!d) throw new Error(`no ${kind} ${name}`);
  return d;
};
const envOf = (container: Doc): Doc[] => (container.env ?? []) as Doc[];

/** A container's environment as the program would see it ($(VAR) expanded, refs filled). */
function environment(container: Doc, fill: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of envOf(container)) {
    const raw = e.value ?? fill[e.name] ?? `from-${e.name}`;
    env[e.name] = String(raw).replace(/\$\((\w+)\)/g, (_, v: string) => env[v] ?? '');
  }
  return env;
}

let available = true;
try {
  // by a variable, so the type check does not need the package where it is not installed
  await import(MODELS['v1/Secret'] as string);
} catch {
  available = false;
}

if (!available) {
  t.comment('skipped: kubernetes-models is not installed (npm ci)');
  t.pass('skipped: kubernetes-models is absent');
} else {
  t.test('every manifest is valid against the Kubernetes API schemas', async (t) => {
    const kustomize = parseAllDocuments(
      readFileSync(join(dir, 'kustomization.yaml'), 'utf8'),
    )[0]?.toJSON() as Doc;
    t.same([...kustomize.resources].sort(), [...files].sort(), 'kustomization lists every file');
    for (const { file, doc } of docs) {
      const Model = await modelOf(doc);
      t.doesNotThrow(() => new Model(doc).validate(), `${file}: ${doc.kind} ${doc.metadata.name}`);
    }
    const broken = structuredClone(find('StatefulSet', 'petrel-node'));
    broken.spec.template.spec.containers[0].readinessProbe.httpGet.port = { name: 'http' };
    broken.spec.replicas = 'three';
    const Model = await modelOf(broken);
    t.throws(() => new Model(broken).validate(), 'a broken StatefulSet is refused');
  });

  t.test('the proxies form a group and the nodes follow it', async (t) => {
    const proxies = find('StatefulSet', 'petrel-proxy');
    const nodes = find('StatefulSet', 'petrel-node');
    const service = find('Service', proxies.spec.serviceName);
    t.equal(service.spec.clusterIP, 'None', 'proxies have stable names (headless service)');
    t.equal(service.spec.publishNotReadyAddresses, true, 'followers resolve too');
    t.equal(proxies.spec.podManagementPolicy, 'Parallel', 'followers never ready: start at once');
    const p = proxies.spec.template.spec.containers[0];
    const pcfg = loadProxyConfig(environment(p, { POD_NAME: 'petrel-proxy-1' }));
    t.ok(pcfg.ETCD_ENDPOINTS.length > 0, 'ETCD_ENDPOINTS makes a group');
    t.equal(pcfg.PROXY_ADVERTISE_URL, 'ws://petrel-proxy-1.petrel-proxy:8080/cluster');
    const etcdHost = new URL(pcfg.ETCD_ENDPOINTS[0] as string).hostname;
    t.ok(find('Service', etcdHost), 'the etcd endpoint is a service of these manifests');
    const n = nodes.spec.template.spec.containers[0];
    const ncfg = loadNodeConfig(environment(n, { NODE_ID: 'petrel-node-0' }));
    const names = Array.from(
      { length: proxies.spec.replicas },
      (_, i) => `ws://petrel-proxy-${i}.${service.metadata.name}:8080/cluster`,
    );
    t.same(ncfg.PROXY_URLS, names, 'PROXY_URL lists every proxy of the group');
  });

  t.test('volumes, secret, probes, drain, resources and budgets', async (t) => {
    const secret = find('Secret', 'petrel-cluster-secret');
    for (const name of ['petrel-proxy', 'petrel-node']) {
      const sts = find('StatefulSet', name);
      const pod = sts.spec.template.spec;
      const c = pod.containers[0];
      const claim = sts.spec.volumeClaimTemplates?.[0];
      t.ok(claim, `${name}: a volume per pod`);
      const mount = c.volumeMounts.find((m: Doc) => m.name === claim.metadata.name);
      t.equal(mount?.mountPath, environment(c, {}).DATA_DIR, `${name}: DATA_DIR is the volume`);
      const ref = envOf(c).find((e) => e.name === 'CLUSTER_SECRET')?.valueFrom?.secretKeyRef;
      t.equal(ref?.name, secret.metadata.name, `${name}: CLUSTER_SECRET from the Secret`);
      t.ok(ref && ref.key in secret.stringData, `${name}: the Secret has the key`);
      const token = name === 'petrel-proxy' ? 'DASHBOARD_TOKEN' : 'CLIENT_TOKEN';
      const tokenRef = envOf(c).find((e) => e.name === token)?.valueFrom?.secretKeyRef;
      t.same(
        tokenRef,
        { name: secret.metadata.name, key: token, optional: true },
        `${name}: ${token} from the Secret when it has the key`,
      );
      const ports = new Set(c.ports.map((p: Doc) => p.name));
      // a proxy is ready while it leads; a node while it takes new jobs, led or not
      t.equal(c.readinessProbe.httpGet.path, '/readyz', `${name}: readiness on /readyz`);
      t.equal(c.livenessProbe.httpGet.path, '/healthz');
      t.ok(ports.has(c.readinessProbe.httpGet.port), `${name}: readiness on a declared port`);
      t.ok(ports.has(c.livenessProbe.httpGet.port), `${name}: liveness on a declared port`);
      t.ok(c.resources.requests.cpu && c.resources.requests.memory, `${name}: requests`);
      const labels = pod.metadata?.labels ?? sts.spec.template.metadata.labels;
      t.same(sts.spec.selector.matchLabels, labels, `${name}: selector matches its pods`);
      const pdb = find('PodDisruptionBudget', name);
      t.same(pdb.spec.selector.matchLabels, labels, `${name}: budget covers its pods`);
    }
    const nodes = find('StatefulSet', 'petrel-node');
    const pod = nodes.spec.template.spec;
    const c = pod.containers[0];
    const cfg = loadNodeConfig(environment(c, { NODE_ID: 'petrel-node-0' }));
    t.ok(cfg.HTTP_PORT > 0, 'the node serves its probes');
    t.match(c.lifecycle.preStop.exec.command.join(' '), /kill -TERM 1/, 'preStop starts the drain');
    t.ok(
      pod.terminationGracePeriodSeconds * 1000 > cfg.DRAIN_TIMEOUT + 5000,
      'the grace period outlasts DRAIN_TIMEOUT and the hand-back',
    );
    t.equal(find('PodDisruptionBudget', 'petrel-node').spec.maxUnavailable, 1);
    const client = find('Service', 'petrel');
    t.same(client.spec.selector, nodes.spec.selector.matchLabels, 'clients reach the nodes');
  });
}

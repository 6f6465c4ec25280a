// deploy/'s Kubernetes manifests: each document validated against the
// Kubernetes API's JSON schemas (kubernetes-models, from npm), then checked for
// what a production install needs and for settings the daemon really has.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Secret, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { SETTINGS } from '../src/config/settings.js';

const DEPLOY = join(__dirname, '..', '..', 'deploy');

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'v1/Secret': Secret,
  'v1/Service': Service,
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  [field: string]: unknown;
}

function manifests(): { file: string; manifest: Manifest }[] {
  return readdirSync(DEPLOY)
    .filter((file) => file.endsWith('.yaml'))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8')).map((document) => {
        assert.deepEqual(document.errors, [], `${file} is not valid YAML`);
        return { file, manifest: document.toJS() as Manifest };
      }),
    );
}

function find<T>(kind: string): T {
  const found = manifests().find(({ manifest }) => manifest.kind === kind);
  assert.ok(found, `deploy/ has no ${kind}`);
  return found.manifest as unknown as T;
}

interface Container {
  env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean; capabilities: { drop: string[] } };
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
}

interface DeploymentManifest {
  metadata: { name: string };
  spec: {
    template: {
      metadata: { labels: Record<string, string> };
      spec: { securityContext: { runAsNonRoot: boolean; runAsUser: number }; containers: Container[] };
    };
  };
}

describe('deploy/ Kubernetes manifests', () => {
  it('are all valid against the Kubernetes API schemas', () => {
    const all = manifests();
    assert.ok(all.length >= 5);
    for (const { file, manifest } of all) {
      const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
      assert.ok(Model, `${file}: no schema known for ${manifest.apiVersion} ${manifest.kind}`);
      assert.doesNotThrow(() => new Model(manifest as never).validate(), `${file}: ${manifest.kind} ${manifest.metadata.name}`);
    }
  });

  it('the schemas do catch a broken manifest', () => {
    const broken = structuredClone(find<DeploymentManifest>('Deployment')) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = 'two';
    assert.throws(() => new Deployment(broken as never).validate());
  });

  it('run the daemon non-root, read-only, without capabilities, with resources and /healthz probes', () => {
    const deployment = find<DeploymentManifest>('Deployment');
    const pod = deployment.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.notEqual(pod.securityContext.runAsUser, 0);
    const [container] = pod.containers;
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    for (const resource of ['cpu', 'memory']) {
      assert.ok(container.resources.requests[resource] && container.resources.limits[resource], `${resource} request and limit`);
    }
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.path, '/healthz');
  });

  it('take the secret from the Secret and only use settings the daemon has', () => {
    const deployment = find<DeploymentManifest>('Deployment');
    const secret = find<{ metadata: { name: string }; stringData: Record<string, string> }>('Secret');
    const [container] = deployment.spec.template.spec.containers;
    const known = new Set(SETTINGS.map((setting) => setting.env));
    for (const variable of container.env) assert.ok(known.has(variable.name), `${variable.name} is not a javascriptd setting`);
    const secretEnv = container.env.find((variable) => variable.name === 'SECRET');
    assert.equal(secretEnv?.value, undefined, 'SECRET must not be written inline');
    assert.equal(secretEnv?.valueFrom?.secretKeyRef?.name, secret.metadata.name);
    assert.ok(secretEnv?.valueFrom?.secretKeyRef?.key && secretEnv.valueFrom.secretKeyRef.key in secret.stringData);
  });

  it('point the Service, autoscaler and network policy at the Deployment', () => {
    const deployment = find<DeploymentManifest>('Deployment');
    const labels = deployment.spec.template.metadata.labels;
    const service = find<{ spec: { selector: Record<string, string> } }>('Service');
    const hpa = find<{ spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number } }>('HorizontalPodAutoscaler');
    const policy = find<{ spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[] } }>('NetworkPolicy');
    for (const selector of [service.spec.selector, policy.spec.podSelector.matchLabels]) {
      for (const [label, value] of Object.entries(selector)) assert.equal(labels[label], value, `selector ${label}=${value}`);
    }
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    assert.ok(hpa.spec.minReplicas >= 2, 'at least two pods, so one can fail');
    assert.deepEqual([...policy.spec.policyTypes].sort(), ['Egress', 'Ingress']);
  });
});

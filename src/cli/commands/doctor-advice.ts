/**
 * What to check, per provider type and kind of problem, in the words of seed 002's
 * Troubleshooting section ("Check credentials: aws sts get-caller-identity", "Test vault
 * connection: vault status -address=…", "List all DATIVO variables: env | grep DATIVO", …),
 * filled in with the provider's own options. Shared by `lockbox doctor` and `lockbox health`.
 * Also: which credentials a provider would use (no value is ever shown, only where it comes from).
 */
import { resolve } from 'node:path';

/** What kind of problem a provider has. */
export type ProblemKind = 'configuration' | 'reachability' | 'authentication' | 'permission';

/** A configured provider as the advice needs it: type, options (after the schema's defaults). */
export interface ProviderFacts {
  type: string;
  options: Record<string, unknown>;
  /** Tenant in effect (examples use it: /secrets/acme/, dativo/acme). */
  tenant?: string;
  /** Directory relative paths resolve against. */
  baseDir: string;
}

/** The seed's generic lines for cloud providers ("Secret Not Found" → Cloud Providers). */
const CLOUD_GENERAL = [
  'Verify secret exists in the provider\'s console',
  'Check authentication (credentials, IAM roles, service accounts)',
  'Verify network connectivity',
  'Check application logs for detailed error messages (LOCKBOX_DEBUG=1)',
];

/**
 * The checks to run for a problem of `kind` (or, with 'general', the type's usual first checks,
 * as `lockbox health` prints them). Empty for types that need no advice (memory).
 */
export function adviceFor(kind: ProblemKind | 'general', facts: ProviderFacts): string[] {
  const o = facts.options;
  const tenant = facts.tenant;
  switch (facts.type) {
    case 'vault': {
      const url = text(o.url, 'https://vault.example.com:8200');
      const mount = text(o.mount_point, 'secret');
      const ns = typeof o.namespace === 'string' ? ` (namespace: VAULT_NAMESPACE=${o.namespace})` : '';
      const connection = `Test vault connection: vault status -address=${url}`;
      const token = `Check token: vault token lookup -address=${url}${ns}`;
      if (kind === 'reachability') return [connection, 'Verify network connectivity (the url, proxies; TLS: verify and ca_file)'];
      if (kind === 'authentication') return [connection, token, 'Set token (or VAULT_TOKEN), or check role_id/secret_id (AppRole) or kubernetes_role/jwt_file (Kubernetes auth)'];
      if (kind === 'permission') return [token, `The token's policies must allow read and list on ${mount}/data/* and ${mount}/metadata/* (create and update to write)`, `Test secret access: vault kv get -address=${url} -mount=${mount} ${tenant ?? text(o.global_document, 'global')}`];
      return [connection, token];
    }
    case 'aws': {
      const secretId = `${text(o.prefix, '')}${tenant ?? text(o.global_document, 'global')}`;
      const region = typeof o.region_name === 'string' ? ` --region ${o.region_name}` : '';
      const endpoint = typeof o.endpoint === 'string' ? ` --endpoint-url ${o.endpoint}` : '';
      const credentials = 'Check credentials: aws sts get-caller-identity';
      const access = `Test secret access: aws secretsmanager get-secret-value --secret-id ${secretId}${region}${endpoint}`;
      if (kind === 'reachability') return [`Verify network connectivity to Secrets Manager${endpoint ? ` at ${String(o.endpoint)}` : ''}${region ? ` in${region.replace(' --region', '')}` : ''} (proxy, VPC endpoint)`, access];
      if (kind === 'authentication') return [credentials, access, 'Check authentication: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the IAM role of the instance/task/pod'];
      if (kind === 'permission') return [credentials, access, `Grant secretsmanager:GetSecretValue, secretsmanager:BatchGetSecretValue and secretsmanager:ListSecrets on arn:aws:secretsmanager:REGION:ACCOUNT:secret:${text(o.prefix, '')}* (CreateSecret and PutSecretValue to write)`];
      return [credentials, access];
    }
    case 'gcp': {
      const project = typeof o.project_id === 'string' ? ` --project=${o.project_id}` : '';
      const access = `Test secret access: gcloud secrets versions access latest --secret=${text(o.prefix, '')}${tenant ?? text(o.global_document, 'global')}${project}`;
      const credentials = 'Check credentials: gcloud auth list';
      if (kind === 'reachability') return [`Verify network connectivity to ${text(o.api_endpoint, 'secretmanager.googleapis.com')}`, access];
      if (kind === 'authentication') return [credentials, access, 'For development: gcloud auth application-default login; in production: GOOGLE_APPLICATION_CREDENTIALS or the workload\'s service account'];
      if (kind === 'permission') return [credentials, access, 'Grant roles/secretmanager.secretAccessor (read) and roles/secretmanager.viewer (list); roles/secretmanager.admin or secretVersionAdder to write'];
      return [credentials, access];
    }
    case 'azure': {
      const vaultName = azureVaultName(o.vault_url);
      const credentials = 'Check credentials: az account show';
      const access = `Test secret access: az keyvault secret show --vault-name ${vaultName} --name ${text(o.prefix, '')}${tenant ? `${tenant}-` : ''}<secret-name>`;
      if (kind === 'reachability') return [`Verify network connectivity to ${text(o.vault_url, 'the vault_url')} (firewall, private endpoint)`, `az keyvault secret list --vault-name ${vaultName}`];
      if (kind === 'authentication') return [credentials, access, 'DefaultAzureCredential tries AZURE_CLIENT_ID/AZURE_CLIENT_SECRET/AZURE_TENANT_ID, workload identity, managed identity, then the Azure CLI (az login)'];
      if (kind === 'permission') return [credentials, access, 'Grant the "Key Vault Secrets User" role (get, list) — "Key Vault Secrets Officer" to write — or an access policy with get and list'];
      return [credentials, access];
    }
    case 'kubernetes': {
      const ns = text(o.namespace, 'default');
      if (kind === 'reachability') return ['Verify network connectivity to the API server: kubectl cluster-info', 'Check the kubeconfig\'s server and context (kubectl config current-context)'];
      if (kind === 'authentication') return ['Check credentials: kubectl auth whoami', 'Check authentication (the kubeconfig user, or the pod\'s service account token)'];
      if (kind === 'permission') return [`kubectl auth can-i list secrets -n ${ns}`, `kubectl auth can-i get secrets -n ${ns}`, 'Grant get and list (create, update, delete to write) on secrets with a Role and RoleBinding'];
      return ['kubectl cluster-info', `kubectl auth can-i list secrets -n ${ns}`];
    }
    case 'env': {
      const prefix = text(o.prefix, '');
      const variable = `${prefix}${tenant ? `${tenant.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_` : ''}STRIPE_API_KEY`;
      return [`Check if variable is set: echo $${variable}`, `List all ${prefix || 'matching'} variables: env | grep ${prefix.replace(/_+$/, '') || '<NAME>'}`];
    }
    case 'file':
    case 'filesystem': {
      const dir = resolve(facts.baseDir, text(o.secrets_dir, '/secrets'));
      const folder = tenant ? `${dir}/${tenant}` : dir;
      return [`Check if file exists: ls -la ${folder}/`, `Check file permissions: ls -l ${folder}/<name>.json (readable by this user)`];
    }
    case 'dotenv': {
      const files = (Array.isArray(o.files) ? o.files : [o.files]).filter((f): f is string => typeof f === 'string').map((f) => resolve(facts.baseDir, f));
      return [`Check if file exists: ls -l ${files.join(' ')}`, 'Check file permissions (readable by this user)'];
    }
    case 'local': {
      const path = resolve(facts.baseDir, text(o.path, '.lockbox/store.db'));
      if (kind === 'configuration' || kind === 'authentication') return [`Check the master key: set ${text(o.master_key_env, 'LOCKBOX_MASTER_KEY')} or check the key file (lockbox keys status)`, `Check file permissions: ls -l ${path} (mode 0600)`];
      return [`Check if file exists: ls -l ${path}`, 'Check file permissions and free disk space'];
    }
    case 'memory':
      return [];
    default:
      return [...CLOUD_GENERAL];
  }
}

/**
 * Where a provider's credentials (or data) would come from, without any value: "token from
 * VAULT_TOKEN (environment)", "the SDK's default credential chain", "key file …".
 */
export function authSource(facts: ProviderFacts, env: Record<string, string | undefined>): string {
  const o = facts.options;
  const set = (name: string): boolean => typeof env[name] === 'string' && env[name] !== '';
  switch (facts.type) {
    case 'vault':
      if (typeof o.role_id === 'string') return `AppRole login at auth/${text(o.approle_mount, 'approle')} (role_id${typeof o.secret_id === 'string' ? ' and secret_id' : ''} from lockbox.yaml)`;
      if (typeof o.kubernetes_role === 'string') return `Kubernetes auth at auth/${text(o.kubernetes_mount, 'kubernetes')}, role ${o.kubernetes_role}, service-account JWT from ${resolve(facts.baseDir, text(o.jwt_file, ''))}`;
      if (typeof o.token === 'string') return 'token from lockbox.yaml (token)';
      if (set('VAULT_TOKEN')) return 'token from VAULT_TOKEN (environment)';
      return 'none: set token or VAULT_TOKEN, role_id (AppRole) or kubernetes_role (Kubernetes auth)';
    case 'aws': {
      const region = typeof o.region_name === 'string' ? `region ${o.region_name} (region_name)` : set('AWS_REGION') ? `region ${env.AWS_REGION} (AWS_REGION)` : set('AWS_DEFAULT_REGION') ? `region ${env.AWS_DEFAULT_REGION} (AWS_DEFAULT_REGION)` : 'region from ~/.aws/config';
      const credentials = set('AWS_ACCESS_KEY_ID') ? 'access key from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (environment)'
        : set('AWS_PROFILE') ? `profile ${env.AWS_PROFILE} (AWS_PROFILE)`
          : set('AWS_WEB_IDENTITY_TOKEN_FILE') ? 'web identity token (AWS_WEB_IDENTITY_TOKEN_FILE, e.g. EKS IRSA)'
            : set('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI') || set('AWS_CONTAINER_CREDENTIALS_FULL_URI') ? 'container credentials (ECS task role)'
              : 'the SDK\'s default chain: ~/.aws/credentials and config (SSO), then the instance\'s IAM role';
      return `${credentials}; ${region}`;
    }
    case 'gcp': {
      const project = typeof o.project_id === 'string' ? `project ${o.project_id} (project_id)` : set('GCP_PROJECT_ID') ? `project ${env.GCP_PROJECT_ID} (GCP_PROJECT_ID)` : 'no project: set project_id or GCP_PROJECT_ID';
      const credentials = set('GOOGLE_APPLICATION_CREDENTIALS') ? `service-account key file from GOOGLE_APPLICATION_CREDENTIALS (${env.GOOGLE_APPLICATION_CREDENTIALS})`
        : 'Application Default Credentials (gcloud auth application-default login, or the metadata server on Google Cloud)';
      return `${credentials}; ${project}`;
    }
    case 'azure':
      if (set('AZURE_CLIENT_SECRET') && set('AZURE_CLIENT_ID')) return 'service principal from AZURE_CLIENT_ID/AZURE_CLIENT_SECRET/AZURE_TENANT_ID (environment)';
      if (set('AZURE_CLIENT_CERTIFICATE_PATH')) return 'service principal certificate from AZURE_CLIENT_CERTIFICATE_PATH (environment)';
      if (set('AZURE_FEDERATED_TOKEN_FILE')) return 'workload identity (AZURE_FEDERATED_TOKEN_FILE)';
      return 'DefaultAzureCredential: managed identity, then the Azure CLI (az login), Azure PowerShell, azd';
    case 'kubernetes':
      if (o.in_cluster === true) return 'the pod\'s service account (in-cluster config)';
      if (typeof o.kubeconfig === 'string') return `kubeconfig ${resolve(facts.baseDir, o.kubeconfig)}${typeof o.context === 'string' ? `, context ${o.context}` : ''}`;
      return `${set('KUBECONFIG') ? `kubeconfig from KUBECONFIG (${env.KUBECONFIG})` : 'kubeconfig ~/.kube/config, else in-cluster'}${typeof o.context === 'string' ? `, context ${o.context}` : ''}`;
    case 'env': {
      const prefix = text(o.prefix, '');
      const count = Object.keys(env).filter((name) => name.startsWith(prefix)).length;
      return `environment variables${prefix ? ` starting with ${prefix}` : ''} (${count} set)`;
    }
    case 'file':
    case 'filesystem':
      return `files under ${resolve(facts.baseDir, text(o.secrets_dir, '/secrets'))}`;
    case 'dotenv':
      return `dotenv file(s) ${(Array.isArray(o.files) ? o.files : [o.files]).map((f) => resolve(facts.baseDir, String(f))).join(', ')}`;
    case 'local': {
      const spec = o.master_key as { source?: string } | undefined;
      if (spec?.source) return `master key from its ${spec.source} source (master_key); store ${resolve(facts.baseDir, text(o.path, '.lockbox/store.db'))}`;
      const variable = text(o.master_key_env, 'LOCKBOX_MASTER_KEY');
      const key = set(variable) ? `master key from ${variable} (environment)` : `master key file ${resolve(facts.baseDir, text(o.master_key_file, '.lockbox/master.key'))}`;
      return `${key}; store ${resolve(facts.baseDir, text(o.path, '.lockbox/store.db'))}`;
    }
    case 'memory':
      return 'process memory (nothing to authenticate)';
    default:
      return 'unknown';
  }
}

function text(value: unknown, fallback: string): string {
  return typeof value === 'string' && value !== '' ? value : fallback;
}

/** "https://my-vault.vault.azure.net/" → "my-vault". */
function azureVaultName(url: unknown): string {
  try {
    return new URL(String(url)).hostname.split('.')[0] || 'my-vault';
  } catch {
    return 'my-vault';
  }
}

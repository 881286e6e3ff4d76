/**
 * Access control: the `access:` policy of lockbox.yaml, compiled once and asked per request.
 * See docs/access-control.md.
 */
export {
  ACTIONS, accessPolicySchema, compilePolicy, decide, authorize, explain, AccessDeniedError, currentPrincipal,
  type Action, type Effect, type AccessPolicyInput, type AccessPolicyConfig, type CompiledPolicy, type CompiledRule,
  type AccessRequest, type Decision, type DecidingRule,
} from './policy.js';
export { compileGlob, globProblem } from './glob.js';

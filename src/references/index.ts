/** The `${secret:…}` reference grammar and its resolver. See docs/references.md. */
export {
  parseTemplate, parseSecretReference, hasReferences, formatRef,
  type SecretReference, type EnvReference, type Reference, type TemplatePart,
} from './parse.js';
export {
  resolveString, resolveDocument, collectReferences, UnresolvedReferencesError,
  type FetchOutcome, type SecretReader, type ResolveOptions, type UnresolvedReference,
} from './resolve.js';

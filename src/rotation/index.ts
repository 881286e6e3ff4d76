/** Rotation: value generators, staged rotation with a test hook, rotation policies and the due sweep (docs/rotation.md). */
export {
  AMBIGUOUS_CHARACTERS, CHARACTER_CLASSES, DEFAULT_GENERATED_LENGTH, MAX_GENERATED_LENGTH, assertGeneratorOptions,
  generateSecret, generateValue, generatorOptionsSchema,
} from './generator.js';
export type { CharacterClass, CustomCharacterClass, GeneratorFunction, GeneratorOptions, GeneratorSpec } from './generator.js';
export { describeTarget, findOwner, rotateSecret } from './staging.js';
export type { Promotion, RotateSecretOptions, RotationContext, RotationHost, RotationResult, RotationTest } from './staging.js';
export {
  parseRotationInterval, policyTags, readPolicyGenerator, readPolicyTags, withoutPolicyTags, ROTATION_EVERY_TAG, ROTATION_GENERATOR_TAG,
  ROTATION_LAST_TAG, ROTATION_TAGS,
} from './policy-tags.js';
export type { RotationPolicy, StoredRotationPolicy } from './policy-tags.js';
export { dueSecrets, rotateDue, rotationSchedule, setRotationPolicy } from './policy.js';
export type {
  RotateDueEntry, RotateDueOptions, RotateDueSummary, RotationPolicyHost, ScheduledRotation, SetPolicyResult, SweepOptions,
} from './policy.js';

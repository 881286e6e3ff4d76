/**
 * The value generator. It lives in src/rotation/generator.ts (with the rest of rotation); this
 * module keeps the original import path working.
 */
export {
  AMBIGUOUS_CHARACTERS, CHARACTER_CLASSES, DEFAULT_GENERATED_LENGTH, MAX_GENERATED_LENGTH, assertGeneratorOptions,
  generateSecret, generateValue, generatorOptionsSchema,
} from './rotation/generator.js';
export type {
  CharacterClass, CustomCharacterClass, GeneratorFunction, GeneratorOptions, GeneratorSpec,
} from './rotation/generator.js';

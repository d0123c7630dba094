/**
 * `hvkit abi init NAME`: start a new ABI from a small, commented example schema that is valid
 * and can be frozen as it is.
 *
 * The example imports the schema language from 'hvkit/abi' (package.json `exports`), which
 * resolves both inside this repository (a package may import itself by name) and in a project
 * that installed hvkit. Files are written through writeFileAtomically: an existing file is
 * refused unless `force`, and never half-written.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { environmentError } from '../errors.ts';
import { writeFileAtomically } from '../os/replace-file.ts';
import { abiDirectory } from './abi-name.ts';
import { CONFIG_FILE, type SchemasLocation } from './schemas-root.ts';

/** Where a project without hvkit.abi.json gets its schemas: abi/ (a project's schemas/ often holds other things). */
export const NEW_PROJECT_SCHEMAS = 'abi';

/** The location `init` uses in a project that has no config yet: NEW_PROJECT_SCHEMAS beside the new config. */
export function newProjectLocation(cwd: string): SchemasLocation {
  return { root: join(cwd, NEW_PROJECT_SCHEMAS), project: cwd, source: 'config', config: join(cwd, CONFIG_FILE) };
}

export interface InitResult {
  /** Files written, absolute. */
  written: string[];
}

/** A 32-bit magic from the name (FNV-1a), so two new ABIs do not start with the same one. */
function magicFor(name: string): number {
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(name, 'utf8')) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  return h;
}

export function exampleSchema(name: string): string {
  const magic = `0x${magicFor(name).toString(16).padStart(8, '0')}`;
  return `/**
 * The ${name} ABI. Edit freely until the first \`hvkit abi freeze ${name}\`; after that,
 * \`hvkit abi check\` refuses any change that would break a program built against a frozen
 * revision (moving or retyping a field, shrinking a struct, renumbering an enum …).
 *
 * Safe changes: append fields to a 'versioned' struct, carve fields out of reserved bytes,
 * add enum values, rename a field (with renamedFrom). Every new field must mean "as before"
 * when it is zero, because older producers leave it zero.
 */
import { defineAbi, int, magic, reserved } from 'hvkit/abi';

export default defineAbi({
  name: '${name}',
  doc: 'What this interface is for, in one sentence.',
  // Bump only for a deliberate break (and set majorSince to the next revision).
  major: 1,
  constants: [
    { name: 'MAGIC', doc: 'First word of a ${name} buffer.', type: 'u32', value: ${magic}, kind: 'magic' },
  ],
  enums: [
    {
      name: 'state',
      doc: 'What the producer is doing.',
      kind: 'enum',
      type: 'u32',
      values: [
        { name: 'idle', value: 0, doc: 'Nothing to do.' },
        { name: 'busy', value: 1, doc: 'Working.' },
      ],
    },
  ],
  structs: [
    {
      name: 'header',
      doc: 'The buffer header. Versioned: the producer writes header_size, so fields may be appended.',
      sizing: 'versioned',
      fields: [
        magic('magic', 'u32', 'MAGIC', 'Identifies the buffer.'),
        int('header_size', 'u32', 'Bytes of this header the producer wrote.'),
        int('state', 'u32', 'Current state.', { enum: 'state' }),
        int('flags', 'u32', 'Reserved for flags; zero.'),
        int('events', 'u64', 'Events handled so far.'),
        // Room to grow in place: later revisions may carve fields out of these bytes.
        reserved('spare', 8, 'Reserved, must be zero.'),
      ],
    },
  ],
});
`;
}

/**
 * Writes <root>/<name>/schema.ts, and the config file in the project when none says where the
 * schemas are (`writeConfig`). Refuses existing files unless `force`.
 */
export function initAbi(
  name: string,
  location: SchemasLocation,
  opts: { force?: boolean; writeConfig?: boolean } = {},
): InitResult {
  const dir = abiDirectory(name, location.root);
  const written: string[] = [];
  const schema = join(dir, 'schema.ts');
  const config = join(location.project, CONFIG_FILE);
  const configText = `${JSON.stringify({ schemas: NEW_PROJECT_SCHEMAS }, null, 2)}\n`;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw environmentError(dir, e);
  }
  writeFileAtomically(schema, [Buffer.from(exampleSchema(name), 'utf8')], { force: opts.force, mode: 0o644 });
  written.push(schema);
  if (opts.writeConfig) {
    writeFileAtomically(config, [Buffer.from(configText, 'utf8')], { force: opts.force, mode: 0o644 });
    written.push(config);
  }
  return { written };
}

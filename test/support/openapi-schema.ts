// A strict validator for the OpenAPI v3 subset that CRD structural schemas use (type,
// properties, required, enum, items, additionalProperties, minimum/maximum, integer formats,
// local $ref). Unknown fields are errors — the API server would prune them silently, which
// is exactly the mistake a test should catch. Returns every violation with its JSON path.
type Schema = {
  readonly type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly enum?: readonly unknown[];
  readonly items?: Schema;
  readonly additionalProperties?: Schema | boolean;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly format?: string;
  readonly $ref?: string;
  readonly definitions?: Readonly<Record<string, Schema>>;
  readonly 'x-kubernetes-preserve-unknown-fields'?: boolean;
};

export function validateOpenApi(root: unknown, value: unknown): string[] {
  const top = root as Schema;
  const errors: string[] = [];
  const resolve = (s: Schema): Schema => {
    if (!s.$ref) return s;
    const name = s.$ref.replace('#/definitions/', '');
    const target = top.definitions?.[name];
    if (!target) throw new Error(`schema: unresolved $ref ${s.$ref}`);
    return target;
  };
  const walk = (schema: Schema, v: unknown, path: string): void => {
    const s = resolve(schema);
    if (s.enum && !s.enum.includes(v)) errors.push(`${path}: ${JSON.stringify(v)} is not one of ${s.enum.join(', ')}`);
    switch (s.type) {
      case 'object': {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) { errors.push(`${path}: expected an object`); return; }
        const o = v as Record<string, unknown>;
        for (const r of s.required ?? []) if (!(r in o)) errors.push(`${path}.${r}: required`);
        if (s['x-kubernetes-preserve-unknown-fields']) return;
        for (const [k, child] of Object.entries(o)) {
          const p = s.properties?.[k];
          if (p) walk(p, child, `${path}.${k}`);
          else if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, child, `${path}.${k}`);
          else errors.push(`${path}.${k}: unknown field`);
        }
        return;
      }
      case 'array':
        if (!Array.isArray(v)) { errors.push(`${path}: expected an array`); return; }
        v.forEach((item, i) => s.items && walk(s.items, item, `${path}[${i}]`));
        return;
      case 'integer':
        if (typeof v !== 'number' || !Number.isInteger(v)) { errors.push(`${path}: expected an integer`); return; }
        if (s.format === 'int32' && (v < -(2 ** 31) || v >= 2 ** 31)) errors.push(`${path}: out of int32 range`);
        break;
      case 'number':
        if (typeof v !== 'number') { errors.push(`${path}: expected a number`); return; }
        break;
      case 'string':
        if (typeof v !== 'string') errors.push(`${path}: expected a string`);
        return;
      case 'boolean':
        if (typeof v !== 'boolean') errors.push(`${path}: expected a boolean`);
        return;
      default:
        return;
    }
    if (typeof v === 'number') {
      if (s.minimum !== undefined && v < s.minimum) errors.push(`${path}: below ${s.minimum}`);
      if (s.maximum !== undefined && v > s.maximum) errors.push(`${path}: above ${s.maximum}`);
    }
  };
  walk(top, value, '$');
  return errors;
}

// Building blocks of the config schema: sections with their defaults, choices, durations, env references.

import Type, { type TProperties } from 'typebox';
import Value from 'typebox/value';

/** The property map as an object that refuses unknown keys, its default built from its fields' defaults. */
export function section<P extends TProperties>(properties: P, description: string) {
  const defaults = Value.Default(Type.Object(properties), {});
  return Type.Object(properties, { additionalProperties: false, description, default: defaults });
}

/** One of a few strings, written as `enum` (what editors complete). */
export const choice = <const T extends string[]>(values: [...T], options: { description: string; default?: T[number] }) =>
  Type.Enum(values, options);

/** A duration in milliseconds (the unit the docs show), at least `minimum`. */
/** The longest delay a Node timer keeps: a longer one fires after 1 ms. */
export const maxTimerMs = 2_147_483_647;

export const ms = (description: string, minimum: number, fallback?: number) =>
  Type.Number({ minimum, maximum: maxTimerMs, unit: 'ms', description, ...(fallback === undefined ? {} : { default: fallback }) });

/** A `${VAR}` or `${VAR:-default}` reference to the environment, as a regular expression's source: group 1 is
 *  the name, group 3 the default. */
export const envReference = '\\$\\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\\}';

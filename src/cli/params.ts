// `--param` on the command line, and how a parameter's declaration is listed.

import { UsageError } from "./errors.ts";
import { isOpsDecl, opNames, paramText, type ParamDecl } from "../model/params.ts";

/** `name=default [min..max]`, or for a list of operations its default and its operations. */
export function paramDeclText(name: string, d: ParamDecl): string {
  if (isOpsDecl(d)) {
    return `${paramText(name, d.default)} [${d.cpus.min}..${d.cpus.max} CPUs of up to ${d.maxOps}: ${opNames(d)}]`;
  }
  const range =
    d.min !== undefined || d.max !== undefined ? ` [${d.min ?? ""}..${d.max ?? ""}]` : "";
  return `${name}=${d.default}${range}`;
}

/**
 * `--param NAME=VALUE`: an integer, or the text of a list of operations (checked against the
 * model's declaration when the parameters are resolved).
 */
export function parseParams(list: readonly string[] | undefined): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const p of list ?? []) {
    const m = /^([A-Za-z_][\w-]*)=(.*)$/s.exec(p);
    if (!m)
      throw new UsageError(
        "E_USAGE",
        `--param ${p}: expected NAME=INTEGER or NAME='OPERATIONS'`,
        "e.g. --param folios=3, or --param third_parties='folio_put(F2);migrate(F1)'",
      );
    out[m[1]!] = /^-?\d+$/.test(m[2]!.trim()) ? Number(m[2]) : m[2]!;
  }
  return out;
}

/** The declarations as JSON: an object count computed by a function is described in words. */
export function paramsJson(params: Readonly<Record<string, ParamDecl>>): unknown {
  return JSON.parse(
    JSON.stringify(params, (k, v: unknown) =>
      k === "count" && typeof v === "function" ? "computed from the other parameters" : v,
    ),
  );
}

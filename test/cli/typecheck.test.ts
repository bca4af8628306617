// Silent model mistakes are errors: a type error in a model file (check type-checks what it
// loads), a misspelt field in a model run without type checking (E_FIELD at run time, naming the
// field and the step), and an expected verdict naming a property the variant does not have.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cli } from "../helpers.ts";
import { closure, localImports, typecheckModels } from "../../src/cli/typecheck.ts";
import { checkVariant, defineModel, int, ModelBuilder, record } from "../../src/index.ts";

const INDEX = fileURLToPath(new URL("../../src/index.ts", import.meta.url));

/** The two-puts model of the README, with `field` as the refcount field the steps use. */
function putModel(field: string, expectText = `{ violated: ["folio-freed"] }`): string {
  return `import { bool, defineModel, int, ModelBuilder, record } from ${JSON.stringify(INDEX)};
export default defineModel({
  name: "put-race",
  doc: "two folio_put() of one folio",
  params: {},
  variants: { "open-coded": { options: {}, expect: ${expectText} } },
  build: () => {
    const m = new ModelBuilder({ F1: record({ _refcount: int(0, 2, 2), freed: bool() }) }, { races: false });
    for (let i = 0; i < 2; i++) {
      m.thread("folio_put", { old: int(0, 2) }, ({ step, if_, when }) => [
        step("old = folio_ref_count(F1)", ({ s, l }) => {
          l.old = s.F1.${field};
        }),
        step("F1->_refcount = old - 1", ({ s, l }) => {
          s.F1.${field} = l.old - 1;
        }),
        if_(when("old == 1", ({ l }) => l.old === 1), [
          step("free_folio(F1)", ({ s }) => {
            s.F1.freed = true;
          }),
        ]),
      ]);
    }
    m.endState("folio-freed", ({ s }) => s.F1.freed || "F1 leaked");
    return m;
  },
});
`;
}

let dir = "";
const saved = {
  tc: process.env["INTERLEAVE_NO_TYPECHECK"],
  cache: process.env["INTERLEAVE_CACHE_DIR"],
};
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "interleave-tc-"));
  writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
  process.env["INTERLEAVE_CACHE_DIR"] = join(dir, "cache");
  delete process.env["INTERLEAVE_NO_TYPECHECK"];
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  process.env["INTERLEAVE_NO_TYPECHECK"] = saved.tc;
  if (saved.cache === undefined) delete process.env["INTERLEAVE_CACHE_DIR"];
  else process.env["INTERLEAVE_CACHE_DIR"] = saved.cache;
});

describe("check type-checks the model files it loads", () => {
  it("a misspelt field is E_MODEL_TYPE naming file:line:col", async () => {
    const f = join(dir, "misspelt.ts");
    writeFileSync(f, putModel("_refcnt"));
    const r = await cli("check", f, "--no-save");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("E_MODEL_TYPE");
    expect(r.stderr).toMatch(/misspelt\.ts:\d+:\d+: Property '_refcnt' does not exist/);
    expect(r.stdout).not.toContain("violated");
  });

  it("the correct model runs, and the second load is served from the cache", async () => {
    const f = join(dir, "correct.ts");
    writeFileSync(f, putModel("_refcount"));
    const first = await typecheckModels([f]);
    expect(first.cached).toBe(false);
    const second = await typecheckModels([f]);
    expect(second.cached).toBe(true);
    expect(second.files).toBeGreaterThan(1); // the model and the checker's sources it imports
    const r = await cli("check", f, "--no-save", "--expect");
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
  });

  it("changing the file changes the key (a fixed typo is checked again)", async () => {
    const f = join(dir, "edit.ts");
    writeFileSync(f, putModel("_refcount"));
    expect((await typecheckModels([f])).cached).toBe(false);
    writeFileSync(f, putModel("_refcount") + "\n// edited\n");
    expect((await typecheckModels([f])).cached).toBe(false);
  });

  it("--no-typecheck loads without it: the misspelt field is then E_FIELD at run time", async () => {
    const f = join(dir, "misspelt2.ts");
    writeFileSync(f, putModel("_refcnt"));
    const r = await cli("check", f, "--no-save", "--no-typecheck");
    expect(r.code).toBe(2);
    const out = r.stdout + r.stderr;
    expect(out).toContain("model error E_FIELD");
    expect(out).toContain('read of F1._refcnt: F1 has no field "_refcnt"');
    expect(out).toContain("step `old = folio_ref_count(F1)`"); // the step
    expect(out).toContain('did you mean "_refcount"?');
  });

  it("the closure follows relative imports only", () => {
    expect(
      localImports(
        `import { a } from "./a.ts";\nimport x from "node:fs";\nexport * from "../b.ts";`,
      ),
    ).toEqual(["./a.ts", "../b.ts"]);
    const files = [
      ...closure([fileURLToPath(new URL("../fixtures/put-race.ts", import.meta.url))]).keys(),
    ];
    expect(files.some((x) => x.endsWith("src/index.ts"))).toBe(true);
    expect(files.some((x) => x.includes("node_modules"))).toBe(false);
  });
});

describe("an expected verdict naming no property of the variant is an error", () => {
  const def = (violated: string[]) =>
    defineModel({
      name: "fred",
      doc: "t",
      params: {},
      variants: { v: { options: {}, expect: { violated } } },
      build: () => {
        const m = new ModelBuilder({ F1: record({ _refcount: int(0, 1, 1) }) });
        m.thread("t", {}, ({ step }) => [
          step("put", ({ s }) => {
            s.F1._refcount = 0;
          }),
        ]);
        m.endState("folio-freed", ({ s }) => s.F1._refcount === 0);
        return m;
      },
    });
  it("folio-fred is E_EXPECT listing the properties that exist", async () => {
    const c = await checkVariant(def(["folio-fred"]), "v");
    expect(c.result.verdict).toBe("error");
    expect(c.result.error?.code).toBe("E_EXPECT");
    expect(c.result.error?.message).toContain(
      'expect names "folio-fred", which is not a property of this variant',
    );
    expect(c.result.error?.hint).toContain("its properties are: folio-freed, deadlock");
    expect(c.judgement?.ok).toBe(false);
  });
  it("the right name is judged as usual (look-alike)", async () => {
    const c = await checkVariant(def(["folio-freed"]), "v");
    expect(c.result.verdict).toBe("holds");
    expect(c.judgement?.detail).toContain("expected folio-freed to be violated, but it holds");
  });
  it("from the CLI: exit 2 with the error, not a verdict", async () => {
    const f = join(dir, "fred.ts");
    writeFileSync(f, putModel("_refcount", `{ violated: ["folio-fred"] }`));
    const r = await cli("check", f, "--no-save", "--expect");
    expect(r.code).toBe(2);
    const out = r.stdout + r.stderr;
    expect(out).toContain("E_EXPECT");
    expect(out).toContain('"folio-fred"');
    expect(out).toContain("its properties are: folio-freed");
  });
});

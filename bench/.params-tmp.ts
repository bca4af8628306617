import { loadModels } from "../src/cli/load.ts";
const ms = await loadModels(["models"]);
for (const { def } of ms) {
  const ps = Object.entries(def.params).map(([k, p]: any) => `${k}=${p.default}[${p.min}..${p.max}]`).join(" ");
  const vs = Object.entries(def.variants).filter(([, v]: any) => v.expect !== "holds").map(([k, v]: any) => `${k}${v.params ? JSON.stringify(v.params) : ""}`).join(", ");
  console.log(def.name, "|", ps, "|", vs);
}

// Property suite of models/memcg-disabled/memcg-disabled.ts (see properties/suite.ts).
import model from "../models/memcg-disabled/memcg-disabled.ts";
import { fuzzSuite } from "./suite.ts";

fuzzSuite(model, "models/memcg-disabled/memcg-disabled.ts", {
  numRuns: 10,
  seeds: 1,
  runs: 1000,
  fixScenario: true,
});

// Property suite of models/list-lru-split/list-lru-split.ts (see properties/suite.ts).
import model from "../models/list-lru-split/list-lru-split.ts";
import { fuzzSuite } from "./suite.ts";

// The use-after-free and lost-membership races here need more ordering constraints than PCT's
// default d=3 covers well (measured: d=3 finds lock-then-freeze's in 5 of 10 sessions of 1000
// runs, d=5 in 10 of 10), so this suite runs PCT with d=5.
fuzzSuite(model, "models/list-lru-split/list-lru-split.ts", {
  numRuns: 10,
  seeds: 1,
  runs: 1000,
  fixScenario: true,
  pctDepth: 5,
});

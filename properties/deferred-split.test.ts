// Property suite of models/deferred-split/deferred-split.ts (see properties/suite.ts).
import model from "../models/deferred-split/deferred-split.ts";
import { fuzzSuite } from "./suite.ts";

fuzzSuite(model, "models/deferred-split/deferred-split.ts", {
  numRuns: 10,
  seeds: 1,
  runs: 1000,
  fixScenario: true,
});

// Property suite of models/device-migration-split/device-migration-split.ts (see properties/suite.ts).
import model from "../models/device-migration-split/device-migration-split.ts";
import { fuzzSuite } from "./suite.ts";

fuzzSuite(model, "models/device-migration-split/device-migration-split.ts", {
  numRuns: 10,
  seeds: 1,
  runs: 1000,
  fixScenario: true,
});

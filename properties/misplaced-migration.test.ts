// Property suite of models/misplaced-migration/misplaced-migration.ts (see properties/suite.ts).
import model from "../models/misplaced-migration/misplaced-migration.ts";
import { fuzzSuite } from "./suite.ts";

fuzzSuite(model, "models/misplaced-migration/misplaced-migration.ts", {
  numRuns: 10,
  seeds: 1,
  runs: 1000,
  fixScenario: true,
});

// Property suite of models/migration-requeue/migration-requeue.ts (see properties/suite.ts).
import model from "../models/migration-requeue/migration-requeue.ts";
import { fuzzSuite } from "./suite.ts";

fuzzSuite(model, "models/migration-requeue/migration-requeue.ts", {
  numRuns: 10,
  seeds: 1,
  runs: 1000,
  fixScenario: true,
});

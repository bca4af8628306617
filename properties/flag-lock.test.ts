// Property suite of models/classic/flag-lock.ts (see properties/suite.ts).
import model from "../models/classic/flag-lock.ts";
import { fuzzSuite } from "./suite.ts";

fuzzSuite(model, "models/classic/flag-lock.ts");

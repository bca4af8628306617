// Property suite of models/classic/philosophers.ts (see properties/suite.ts).
import model from "../models/classic/philosophers.ts";
import { fuzzSuite } from "./suite.ts";

fuzzSuite(model, "models/classic/philosophers.ts");

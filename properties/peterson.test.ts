// Property suite of models/classic/peterson.ts (see properties/suite.ts).
import model from "../models/classic/peterson.ts";
import { fuzzSuite } from "./suite.ts";

fuzzSuite(model, "models/classic/peterson.ts");

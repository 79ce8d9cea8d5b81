// expect: TS2322 (a priority the schema does not have)
import type { CreateTaskMutationVariables } from "../src/generated/graphql.js";

export const variables: CreateTaskMutationVariables = {
  id: "6f1c3c0e-3a4b-4a8e-9a51-0d2f1b7c9e10",
  input: { title: "Rig the lights", priority: "normal" },
};
